"""dli inside Apache Airflow: the DAG factory (``dag_factory``) and its drop-in DAG file (``dli_dags.py``).

Only ``dag_factory`` imports Airflow; ``sql_template`` and ``spec_source`` are plain Python.
"""
