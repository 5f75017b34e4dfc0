from dli.entrypoints.airflow.dag_factory import load_dags

load_dags(globals())
