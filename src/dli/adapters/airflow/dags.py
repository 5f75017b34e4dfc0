"""DAGs in Airflow: finding one, its pause state, its import error, and asking Airflow to parse the
file a just-written spec lands in (with dli's DAG bundle, one shard of the store)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

import httpx
import tenacity

from dli.adapters.airflow import lists
from dli.adapters.airflow.runs import BROKEN_PREFIX, BROKEN_TAG, shard_of, shard_of_file, shard_tag
from dli.adapters.airflow.session import AirflowSession, database_failed, segment
from dli.domain.model.errors import WorkflowExecutionError
from dli.domain.model.workflow import DagState

__all__ = ["PATTERN_CHARS", "AirflowDags"]

PATTERN_CHARS = 2_000  # DAG ids per dag_id_pattern search, joined by '|': a URL well under 8 KiB


class AirflowDags:
    """The DAGs of one Airflow, and the DAG files dli's writes ask it to parse."""

    def __init__(self, http: AirflowSession, *, dag_wait_seconds: float, sleep: Callable[[float], None]) -> None:
        self._http = http
        self._dag_wait = dag_wait_seconds
        self._sleep = sleep
        # Airflow's file token of each DAG file seen (relative_fileloc -> token): a write asks Airflow
        # to parse the file of its dataset, which with dli's DAG bundle is one shard of the store.
        self._file_tokens: dict[str, str] = {}
        # The last DAG read, used by the sync() that follows (a write reads its DAG first).
        self._last_read: tuple[str, Mapping[str, Any] | None] | None = None

    def get(self, name: str) -> Mapping[str, Any] | None:
        """The DAG of ``name`` (``None``: Airflow has none)."""
        response = self._http.call("GET", f"/api/v2/dags/{segment(name)}")
        if response.status_code == 404:
            self._last_read = (name, None)
            return None
        if response.status_code != 200:
            raise self._http.error(response, f"read DAG '{name}'")
        dag = response.json()
        self._remember_file(dag)
        self._last_read = (name, dag)
        return dag

    def listed(self, query: Mapping[str, Any], *, max_items: int | None = None) -> list[Mapping[str, Any]]:
        """The DAGs ``query`` selects; their files are remembered for later parse requests."""
        found = list(lists.dags(self._http, query, max_items=max_items))
        for dag in found:
            self._remember_file(dag)
        return found

    def _remember_file(self, dag: Mapping[str, Any]) -> None:
        token = dag.get("file_token")
        if token:
            self._file_tokens[str(dag.get("relative_fileloc") or dag.get("fileloc") or token)] = str(token)

    def on_dag(self, name: str, send: Callable[[], httpx.Response]) -> httpx.Response:
        """``send()``, a request on the DAG of ``name``, sent again while Airflow answers 404.

        A just-written spec may need a moment (bounded) to become a DAG. Sending first and waiting
        only on a 404 spares reading the DAG before every write; a 404 did nothing, so sending again
        cannot do anything twice.
        """
        # A parse takes a second or two: ask often at first, then every second. After the first 404,
        # Airflow is asked to parse the DAG's file now rather than at its next refresh.
        waits = [tenacity.wait_fixed(delay) for delay in (0.25, 0.25, 0.5, 0.5, 1.0)]
        until_found = tenacity.Retrying(
            retry=tenacity.retry_if_result(lambda response: response.status_code == 404),
            wait=tenacity.wait_chain(*waits),
            stop=tenacity.stop_after_delay(self._dag_wait),
            sleep=self._sleep,
            after=lambda state: self._reparse(name) if state.attempt_number == 1 else None,
            retry_error_callback=lambda _state: None,
        )
        response: httpx.Response | None = until_found(send)
        if response is not None:
            return response
        raise WorkflowExecutionError(
            f"Airflow at {self._http.display} has no DAG '{name}' yet (not parsed within {self._dag_wait:g}s)",
            hints=(
                "Check that the dli DAG file is in Airflow's DAG folder and DLI_STORE_URL points at this store;",
                "'dli workflow register --wait' reports the DAG's import error, if any.",
            ),
            details={"dataset_name": name},
        )

    def _file_of(self, name: str, dag: Mapping[str, Any] | None) -> str | None:
        """The token of the file that holds (or will hold) the DAG of ``name``.

        Its own DAG's file when it has one. A new dataset of dli's DAG bundle lands in the shard file
        ``shard_of(name, shards)``: that file's token, found by the shard's tag, else (a shard without
        DAGs yet) any shard file of the bundle: parsing one makes Airflow refresh the bundle, which
        writes the new shard file, and Airflow parses a new file first.
        Without a bundle, the one DAG file of the factory.
        """
        if dag is not None and dag.get("file_token"):
            return str(dag["file_token"])
        if not self._file_tokens:
            self.listed({"tags": "dli"}, max_items=1)
        shards = {shard_of_file(where): token for where, token in self._file_tokens.items()}
        shards.pop(None, None)
        if not shards:
            return next(iter(self._file_tokens.values()), None)
        count = next(iter(shards))[1]  # type: ignore[index]
        wanted = (shard_of(name, count), count)
        if wanted not in shards:
            for found in self.listed({"tags": shard_tag(*wanted)}, max_items=1):
                if found.get("file_token"):
                    shards[wanted] = str(found["file_token"])
        return shards.get(wanted) or next(iter(shards.values()))

    def _reparse(self, name: str, dag: Mapping[str, Any] | None = None) -> None:
        """Ask Airflow to parse the DAG file of ``name`` now; without one, the refresh interval does it."""
        token = self._file_of(name, dag)
        if not token:
            return
        response = self._http.call("PUT", f"/api/v2/parseDagFile/{token}")
        if response.status_code == 404:
            self._file_tokens = {where: t for where, t in self._file_tokens.items() if t != token}
        # 409: a reparse of the file is already pending. Any other refusal is not worth failing for:
        # the DAG processor's refresh interval picks the change up anyway.

    def sync(self, name: str) -> None:
        last, self._last_read = self._last_read, None
        self._reparse(name, last[1] if last is not None and last[0] == name else self.get(name))

    def dag_state(self, name: str) -> DagState:
        dag = self.get(name)
        if dag is not None:
            tags = {t.get("name") for t in dag.get("tags") or ()}
            if BROKEN_TAG in tags:
                description = str(dag.get("description") or "")
                return DagState(visible=True, error=description.removeprefix(BROKEN_PREFIX) or "broken spec")
            return DagState(visible=True, error=None)
        for item in lists.items(self._http, "GET", "/api/v2/importErrors", "import_errors", "list import errors"):
            trace = str(item.get("stack_trace") or "")
            if "dli" in trace:
                last = [line for line in trace.strip().splitlines() if line.strip()][-1:]
                return DagState(visible=False, error=f"{item.get('filename')}: {last[0] if last else 'import error'}")
        return DagState(visible=False, error=None)

    def is_paused(self, name: str) -> bool | None:
        dag = self.get(name)
        return None if dag is None else bool(dag.get("is_paused"))

    def paused_among(self, names: Collection[str]) -> dict[str, bool]:
        """``name -> paused`` of the DAGs among ``names`` (one search; keep the '|'-joined names short,
        ``PATTERN_CHARS``), never a scan of every DAG.

        ``dag_id_pattern`` takes ``a|b|c`` as an OR of case-insensitive substring matches (Airflow
        3.3; ``_`` matches any character), so the search may also find other DAGs: only the exact
        names are kept.
        """
        exact = set(names)
        found = self.listed({"dag_id_pattern": "|".join(sorted(exact))})
        return {dag["dag_id"]: bool(dag.get("is_paused")) for dag in found if dag.get("dag_id") in exact}

    def pause_states(self) -> Mapping[str, bool]:
        return {dag["dag_id"]: bool(dag.get("is_paused")) for dag in self.listed({"tags": "dli", "order_by": "dag_id"})}

    def set_paused(self, name: str, paused: bool) -> None:
        response = self.on_dag(
            name,
            lambda: self._http.call(
                "PATCH",
                f"/api/v2/dags/{segment(name)}",
                params={"update_mask": "is_paused"},
                json={"is_paused": paused},
                also_retry=database_failed,
                policy=self._http.locked_policy,
            ),
        )
        if response.status_code != 200:
            raise self._http.error(response, f"{'pause' if paused else 'unpause'} '{name}'")
