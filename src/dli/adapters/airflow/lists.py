"""Airflow's lists, page by page.

Airflow silently caps every page at its ``maximum_page_limit`` (100 by default): a list is read
until its ``total_entries``. GET lists take ``limit``/``offset`` query parameters; the POST
``.../list`` endpoints take ``page_limit``/``page_offset`` in the body. Every list is a read, the
POST ones too: a page Airflow's database refused (SQLite locked) is asked again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from dli.adapters.airflow.session import AirflowSession, database_failed

__all__ = ["PAGE", "chunks", "dags", "items", "pages", "run_pages", "task_instances"]

PAGE = 100  # Airflow's default maximum_page_limit: a larger page is silently cut to it


def pages(
    http: AirflowSession,
    method: str,
    path: str,
    key: str,
    action: str,
    *,
    query: Mapping[str, Any] | None = None,
    max_items: int | None = None,
) -> Iterator[tuple[list[Mapping[str, Any]], int]]:
    """``(items, total_entries)`` page after page of an Airflow list, up to ``max_items`` items.

    Lazy: a caller that stops reading stops the paging.
    """
    offset = 0
    while max_items is None or offset < max_items:
        size = PAGE if max_items is None else min(PAGE, max_items - offset)
        if method == "GET":
            where = {"params": {**(query or {}), "limit": size, "offset": offset}}
        else:
            where = {"json": {**(query or {}), "page_limit": size, "page_offset": offset}}
        body = http.json(method, path, action, also_retry=database_failed, **where)
        found = list(body.get(key) or ())
        total = int(body.get("total_entries") or 0)
        yield found, total
        offset += len(found)
        if not found or offset >= total:
            return


def items(
    http: AirflowSession, method: str, path: str, key: str, action: str, **options: Any
) -> Iterator[Mapping[str, Any]]:
    """The items of every page of an Airflow list (``pages``, with its ``query`` and ``max_items``), one by one."""
    for found, _ in pages(http, method, path, key, action, **options):
        yield from found


def dags(
    http: AirflowSession, query: Mapping[str, Any], *, max_items: int | None = None
) -> Iterator[Mapping[str, Any]]:
    """The DAGs ``query`` selects (``GET /api/v2/dags``)."""
    return items(http, "GET", "/api/v2/dags", "dags", "list DAGs", query=query, max_items=max_items)


def run_pages(
    http: AirflowSession, names: Collection[str] | None, states: list[str] | None, *, max_items: int | None = None
) -> Iterator[tuple[list[Mapping[str, Any]], int]]:
    """Pages of the runs of the DAGs ``names`` (all: ``None``) in ``states`` (any: ``None``), newest first."""
    # Newest created first: run_after would put a backfill of old dates behind today's runs.
    query: dict[str, Any] = {"order_by": "-id"}
    if names is not None:
        query["dag_ids"] = sorted(names)
    if states:
        query["states"] = states
    return pages(http, "POST", "/api/v2/dags/~/dagRuns/list", "dag_runs", "list runs", query=query, max_items=max_items)


def task_instances(
    http: AirflowSession, runs: Sequence[Mapping[str, Any]], **filters: list[str]
) -> Iterator[Mapping[str, Any]]:
    """The task instances of the given runs (of any DAGs) that match ``filters`` (``task_ids``,
    ``state``): one request a page, lazily."""
    query = {
        "dag_ids": sorted({r["dag_id"] for r in runs}),
        "dag_run_ids": sorted({r["dag_run_id"] for r in runs}),
        **filters,
    }
    # The query is the cross product of DAG ids and run ids: keep only the runs asked for.
    wanted = {(r["dag_id"], r["dag_run_id"]) for r in runs}
    path = "/api/v2/dags/~/dagRuns/~/taskInstances/list"
    for ti in items(http, "POST", path, "task_instances", "list task instances", query=query):
        if (ti["dag_id"], ti["dag_run_id"]) in wanted:
            yield ti


def chunks(names: Sequence[str], max_chars: int) -> Iterator[list[str]]:
    """``names`` in runs whose '|'-joined length stays under ``max_chars``."""
    chunk: list[str] = []
    size = 0
    for name in names:
        if chunk and size + len(name) + 1 > max_chars:
            yield chunk
            chunk, size = [], 0
        chunk.append(name)
        size += len(name) + 1
    if chunk:
        yield chunk
