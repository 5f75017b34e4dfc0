"""Task logs from Airflow: a run's log text, and the error of a failed attempt (Airflow has no error
field: it is the error event of the attempt's structured log)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dli.adapters.airflow.runs import format_event
from dli.adapters.airflow.session import AirflowSession, segment

__all__ = ["AirflowLogs"]


class AirflowLogs:
    """Reads task logs through one Airflow session."""

    def __init__(self, http: AirflowSession) -> None:
        self._http = http

    def events(self, name: str, native: str, task_id: str, attempt: int) -> list[Any]:
        """The log events of one attempt of a task (none when Airflow has no log)."""
        response = self._http.call(
            "GET",
            f"/api/v2/dags/{segment(name)}/dagRuns/{segment(native)}/taskInstances/{segment(task_id)}/logs/{attempt}",
            params={"full_content": "true"},
        )
        if response.status_code == 404:
            return []
        if response.status_code != 200:
            raise self._http.error(response, f"read the log of task '{task_id}'")
        content = response.json().get("content")
        return list(content) if isinstance(content, list) else [str(content or "")]

    def text(self, name: str, native: str, task_instances: Iterable[Mapping[str, Any]]) -> str:
        """The log of a run: every attempt of each of its task instances, under a heading each."""
        chunks = []
        for ti in task_instances:
            for attempt in range(1, int(ti.get("try_number") or 0) + 1):
                events = self.events(name, native, ti["task_id"], attempt)
                chunks.append(f"=== {ti['task_id']} (attempt {attempt}, {ti.get('state')}) ===")
                chunks.extend(format_event(e) for e in events if format_event(e))
        return "\n".join(chunks) + ("\n" if chunks else "")

    def error_text(self, ti: Mapping[str, Any]) -> str | None:
        """``exc_type: exc_value`` of the error event in the task's last attempt."""
        attempt = int(ti.get("try_number") or 0)
        if attempt < 1:
            return None
        events = self.events(ti["dag_id"], ti["dag_run_id"], ti["task_id"], attempt)
        for event in reversed(events):
            if isinstance(event, Mapping) and event.get("error_detail"):
                details = [d for d in event["error_detail"] if isinstance(d, Mapping)]
                main = next((d for d in details if not d.get("is_cause")), details[0] if details else None)
                if main is None:
                    continue
                if main.get("exc_type") == "AirflowFailException":
                    return str(main.get("exc_value"))
                return f"{main.get('exc_type')}: {main.get('exc_value')}"
        return None
