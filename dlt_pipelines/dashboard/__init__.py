"""The analysts' dashboards (``make dashboard``): a Streamlit app over the marts, docs/dashboards.md."""
