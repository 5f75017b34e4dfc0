"""Connection arguments for an Airflow whose metadata database is SQLite (the local stack).

Airflow opens SQLite with the driver's 5 s busy timeout. On two busy cores the scheduler, the
DAG processor and the API server hold the write lock longer than that, and a request that gives up
("database is locked") while creating a backfill makes Airflow delete runs a scheduler loop has
already loaded: the loop dies and no run is scheduled again (docs/airflow.md). Waiting longer for
the lock turns those failures into short waits. Airflow reads this dict by its import path
(``[database] sql_alchemy_connect_args``), so it must live in a module the Airflow venv can import.
"""

from __future__ import annotations

__all__ = ["CONNECT_ARGS", "CONNECT_ARGS_PATH"]

CONNECT_ARGS: dict[str, object] = {"timeout": 60}
"""``sqlite3.connect`` arguments: wait up to 60 s for the database lock instead of 5 s."""

CONNECT_ARGS_PATH = f"{__name__}.CONNECT_ARGS"
"""The value of ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS``."""
