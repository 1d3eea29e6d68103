"""dlt pipelines that land school data (Aeries, i-Ready, Bakalari) in a Postgres warehouse."""
