"""One file per page: Streamlit runs each as a script (app.py registers them)."""
