"""The Basecamp HTTP client: the ControlPlane port over the server's REST API (SERVER mode).

One pooled ``httpx.Client`` per instance. Retries, with exponential backoff, only where repeating
cannot do anything twice: any request whose connection could not be opened (nothing was sent), and
GET requests on other transport failures or 502/503/504. Error bodies come back as the same DLI
exceptions the in-process use-cases raise. The token is sent in a header and never appears in
``repr``, messages or logs.
"""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from dli.adapters.codecs.results import from_jsonable, to_jsonable
from dli.adapters.codecs.specs import spec_to_dict
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import (
    AuthenticationError,
    DLIError,
    ErrorCode,
    ServerError,
    ServerUnreachableError,
    error_for_code,
)
from dli.domain.model.spec import DatasetSpec
from dli.domain.model.workflow import (
    RunLogs,
    WorkflowHistoryResult,
    WorkflowInfo,
    WorkflowListResult,
    WorkflowRegisterResult,
    WorkflowRunResult,
    WorkflowStatusResult,
)
from dli.domain.model.queries import HistoryQuery, ListQuery
from dli.domain.model.workflow import DagState

__all__ = ["BasecampClient"]

T = TypeVar("T")

_RETRY_STATUSES = frozenset({502, 503, 504})


def _user_agent() -> str:
    try:
        return f"dli/{importlib.metadata.version('dli')}"
    except importlib.metadata.PackageNotFoundError:
        return "dli"


def _segment(value: str) -> str:
    """One path segment: '/', '@', ':', '+' and the rest percent-encoded."""
    return quote(value, safe="")


def _display_url(url: str) -> str:
    """The URL without credentials or query, for messages."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


class BasecampClient:
    """Implements the ControlPlane port by calling a Basecamp server."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str | None = None,
        timeout_seconds: float = 30.0,
        retries: int = 2,
        backoff_seconds: float = 0.25,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._url = _display_url(base_url)
        headers = {"Accept": "application/json", "User-Agent": _user_agent()}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._has_token = bool(token)
        self._retries = max(0, retries)
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 10.0)),
            limits=httpx.Limits(max_connections=10, max_keepalive_connections=5),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"BasecampClient(base_url={self._url!r})"

    @property
    def base_url(self) -> str:
        """The server (no credentials)."""
        return self._url

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def __enter__(self) -> BasecampClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- ControlPlane --------------------------------------------------------------------------

    def get(self, dataset_name: str) -> WorkflowInfo | None:
        try:
            return self._request("GET", f"/api/v1/workflows/{_segment(dataset_name)}", WorkflowInfo)
        except DLIError as exc:
            if exc.code is ErrorCode.WORKFLOW_NOT_FOUND:
                return None
            raise

    def dag_state(self, dataset_name: str) -> DagState:
        return self._request("GET", f"/api/v1/workflows/{_segment(dataset_name)}/live", DagState)

    def register(self, *, spec: DatasetSpec, force: bool = False) -> WorkflowRegisterResult:
        body = {"spec": spec_to_dict(spec), "force": force}
        return self._request("POST", "/api/v1/workflows", WorkflowRegisterResult, json=body)

    def unregister(self, dataset_name: str) -> WorkflowRunResult:
        return self._request("DELETE", f"/api/v1/workflows/{_segment(dataset_name)}", WorkflowRunResult)

    def run(self, dataset_name: str, *, parameters: Mapping[str, Any], dry_run: bool = False) -> WorkflowRunResult:
        body = {"parameters": to_jsonable(dict(parameters)), "dry_run": dry_run}
        return self._request("POST", f"/api/v1/workflows/{_segment(dataset_name)}/run", WorkflowRunResult, json=body)

    def backfill(
        self,
        dataset_name: str,
        *,
        start_date: str,
        end_date: str,
        parameters: Mapping[str, Any],
        dry_run: bool = False,
    ) -> WorkflowRunResult:
        body = {
            "start_date": start_date,
            "end_date": end_date,
            "parameters": to_jsonable(dict(parameters)),
            "dry_run": dry_run,
        }
        path = f"/api/v1/workflows/{_segment(dataset_name)}/backfill"
        return self._request("POST", path, WorkflowRunResult, json=body)

    def stop(self, run_id: str) -> WorkflowRunResult:
        return self._request("POST", f"/api/v1/runs/{_segment(run_id)}/stop", WorkflowRunResult)

    def get_status(self, run_id: str) -> WorkflowStatusResult:
        return self._request("GET", f"/api/v1/runs/{_segment(run_id)}", WorkflowStatusResult)

    def list_workflows(self, query: ListQuery) -> WorkflowListResult:
        params: dict[str, str] = {
            "running_only": _bool(query.running_only),
            "enabled_only": _bool(query.enabled_only),
            "limit": str(query.limit),
        }
        if query.source_type is not None:
            params["source_type"] = query.source_type.value
        if query.status is not None:
            params["status"] = query.status.value
        if query.dataset_filter:
            params["dataset_filter"] = query.dataset_filter
        return self._request("GET", "/api/v1/workflows", WorkflowListResult, params=params)

    def history(self, query: HistoryQuery) -> WorkflowHistoryResult:
        params: dict[str, str] = {
            "limit": str(query.limit),
            "include_dataset_info": _bool(query.include_dataset_info),
        }
        if query.dataset_name is not None:
            params["dataset_name"] = query.dataset_name
        if query.source_type is not None:
            params["source_type"] = query.source_type.value
        if query.run_status is not None:
            params["run_status"] = query.run_status.value
        return self._request("GET", "/api/v1/history", WorkflowHistoryResult, params=params)

    def pause(self, dataset_name: str, *, source_type: SourceType | None = None) -> WorkflowRunResult:
        return self._pause("pause", dataset_name, source_type)

    def unpause(self, dataset_name: str, *, source_type: SourceType | None = None) -> WorkflowRunResult:
        return self._pause("unpause", dataset_name, source_type)

    def logs(self, run_id: str) -> RunLogs:
        return self._request("GET", f"/api/v1/runs/{_segment(run_id)}/logs", RunLogs)

    def _pause(self, action: str, dataset_name: str, source_type: SourceType | None) -> WorkflowRunResult:
        body = {"source_type": source_type.value if source_type is not None else None}
        path = f"/api/v1/workflows/{_segment(dataset_name)}/{action}"
        return self._request("POST", path, WorkflowRunResult, json=body)

    # -- transport -----------------------------------------------------------------------------

    def _request(self, method: str, path: str, cls: type[T], **kwargs: Any) -> T:
        response = self._send(method, path, **kwargs)
        if response.is_success:
            try:
                data = response.json()
            except ValueError:
                raise ServerError(
                    f"Basecamp server at {self._url} answered {response.status_code} with a body that is not JSON"
                ) from None
            return from_jsonable(data, cls)
        raise self._error(response)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        idempotent = method in ("GET", "HEAD")
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Nothing reached the server: repeating is safe for every method.
                if attempt < self._retries:
                    self._backoff_sleep(attempt)
                    attempt += 1
                    continue
                raise self._unreachable(exc) from None
            except httpx.TransportError as exc:
                if idempotent and attempt < self._retries:
                    self._backoff_sleep(attempt)
                    attempt += 1
                    continue
                raise self._unreachable(exc) from None
            if idempotent and response.status_code in _RETRY_STATUSES and attempt < self._retries:
                self._backoff_sleep(attempt)
                attempt += 1
                continue
            return response

    def _backoff_sleep(self, attempt: int) -> None:
        self._sleep(self._backoff * (2**attempt))

    def _unreachable(self, exc: httpx.TransportError) -> ServerUnreachableError:
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            reason = "did not answer in time"
        else:
            reason = f"cannot be reached ({type(exc).__name__})"
        return ServerUnreachableError(
            f"Basecamp server at {self._url} {reason}",
            hints=(
                "Check the server URL (--server / DLI_SERVER_URL) and that the server is running.",
                f"Its health endpoint is {self._url}/health.",
            ),
            details={"server_url": self._url},
        )

    def _error(self, response: httpx.Response) -> DLIError:
        error: Any = None
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            error = None
        if response.status_code == 401:
            message = error.get("message") if isinstance(error, dict) else None
            hint = (
                "Check DLI_API_TOKEN (or the token in your config file); ask an administrator for a new one."
                if self._has_token
                else "No API token was given: set DLI_API_TOKEN (or put the token in your config file)."
            )
            return AuthenticationError(
                f"Authentication failed at {self._url}: {message or 'token not accepted'}",
                hints=(hint,),
                details={"server_url": self._url},
            )
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            hints = error.get("hints") or ()
            details = error.get("details") or {}
            return error_for_code(
                error["code"],
                str(error.get("message", "")),
                hints=tuple(str(h) for h in hints) if isinstance(hints, list) else (),
                details=details if isinstance(details, dict) else {},
            )
        return ServerError(
            f"Basecamp server at {self._url} answered HTTP {response.status_code}",
            details={"server_url": self._url, "status": response.status_code},
        )


def _bool(value: bool) -> str:
    return "true" if value else "false"
