"""dli.adapters.airflow."""
