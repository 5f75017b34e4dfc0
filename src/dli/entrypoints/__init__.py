"""Entrypoints: the WorkflowAPI facade, the CLI, the Basecamp server and the Airflow DAG factory."""
