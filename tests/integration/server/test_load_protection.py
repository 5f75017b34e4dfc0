"""A real ``basecamp serve`` when Airflow is unreachable or hangs, and when it is saturated: list still
answers (run state unknown), a full queue answers 503 with Retry-After, a departed client is dropped."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.domain.model.enums import SourceType
from tests.support.basecamp import BasecampProcess, free_port, running_basecamp
from tests.support.specs import make_document

NAMES = ["shop.load.a", "shop.load.b", "shop.load.c"]
AIRFLOW_LOGIN = {"DLI_AIRFLOW_USERNAME": "admin", "DLI_AIRFLOW_PASSWORD": "admin"}


class HangingServer:
    """Accepts connections and never answers (an Airflow that hangs)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture(scope="module")
def hanging() -> Iterator[HangingServer]:
    server = HangingServer()
    yield server
    server.close()


def _store(root: Path) -> str:
    store = FilesystemSpecStore(root)
    for name in NAMES:
        store.create(SourceType.MANUAL, make_document(name))
    return root.as_uri()


def _call(server: BasecampProcess, method: str, path: str, timeout: float = 60.0, **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.token}"}
    return httpx.request(method, server.url + path, headers=headers, timeout=timeout, **kwargs)


def _health(server: BasecampProcess) -> dict:
    return httpx.get(server.url + "/health", timeout=60).json()


def _wait(done, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.1)


def test_list_answers_without_run_state_when_airflow_is_unreachable(tmp_path: Path):
    unreachable = f"http://127.0.0.1:{free_port()}"
    for server in running_basecamp(
        tmp_path / "server", store_url=_store(tmp_path / "store"), orchestrator_url=unreachable, env=AIRFLOW_LOGIN
    ):
        response = _call(server, "GET", "/api/v1/workflows")
        assert response.status_code == 200
        body = response.json()
        assert [w["dataset_name"] for w in body["workflows"]] == NAMES
        assert {(w["status"], w["status_known"], w["running"]) for w in body["workflows"]} == {("active", False, None)}
        assert body["warnings"] and "Airflow" in body["warnings"][0] and "credentials" not in body["warnings"][0]
        again = _call(server, "GET", "/api/v1/workflows", params={"limit": 2}).json()  # answered from the cooldown
        assert [w["status_known"] for w in again["workflows"]] == [False, False]
        health = httpx.get(server.url + "/health", timeout=60)
        assert health.status_code == 503 and health.json()["orchestrator"]["reachable"] is False


def test_list_answers_without_run_state_when_airflow_hangs(tmp_path: Path, hanging: HangingServer):
    for server in running_basecamp(
        tmp_path / "server", store_url=_store(tmp_path / "store"), orchestrator_url=hanging.url, env=AIRFLOW_LOGIN
    ):
        response = _call(server, "GET", "/api/v1/workflows")
        assert response.status_code == 200
        body = response.json()
        assert [w["dataset_name"] for w in body["workflows"]] == NAMES
        assert all(not w["status_known"] for w in body["workflows"])
        # Within the wait budget, or at once while the failure of an earlier ask (10 s) is recent.
        assert "did not answer" in body["warnings"][0]
        health = httpx.get(server.url + "/health", timeout=60)
        assert health.status_code == 503 and health.json()["orchestrator"]["reachable"] is False


def test_a_full_queue_is_503_with_retry_after_and_a_client_that_left_is_not_worked_on(
    tmp_path: Path, hanging: HangingServer
):
    args = ["--max-in-flight", "1", "--max-queued", "1", "--queue-timeout", "120"]
    for server in running_basecamp(
        tmp_path / "server",
        store_url=_store(tmp_path / "store"),
        orchestrator_url=hanging.url,
        extra_args=args,
        env=AIRFLOW_LOGIN,
    ):
        # The one slot: a history request waits for the hanging Airflow.
        def hold(server: BasecampProcess = server) -> None:
            with contextlib.suppress(httpx.HTTPError):  # the server stops before Airflow ever answers
                _call(server, "GET", "/api/v1/history", timeout=120)

        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        _wait(lambda server=server: _health(server)["load"]["in_flight"] == 1)
        # The one place in the queue: a client that will leave before its turn.
        leaver = socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])))
        leaver.sendall(
            f"GET /api/v1/history HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.token}\r\n"
            "X-Request-ID: the-leaver\r\n\r\n".encode()
        )
        _wait(lambda server=server: _health(server)["load"]["queued"] == 1)

        refused = _call(server, "GET", "/api/v1/workflows", timeout=30)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
        assert refused.json()["error"]["code"] == "DLI-503" and "busy" in refused.json()["error"]["message"]

        leaver.close()
        _wait(lambda server=server: _health(server)["load"]["abandoned"] == 1)
        load = _health(server)["load"]
        assert (load["queued"], load["in_flight"], load["refused"]) == (0, 1, 1)
        line = server.wait_for_log(lambda line: line.get("request_id") == "the-leaver")
        assert line["status"] == 499 and line["queued_ms"] > 0


def test_serve_with_two_workers_answers_from_both_over_one_port(tmp_path: Path):
    unreachable = f"http://127.0.0.1:{free_port()}"
    for server in running_basecamp(
        tmp_path / "server",
        store_url=_store(tmp_path / "store"),
        orchestrator_url=unreachable,
        extra_args=["--workers", "2"],
        env=AIRFLOW_LOGIN,
    ):
        _wait(
            lambda server=server: (
                len({line["pid"] for line in server.log_lines() if line.get("event") == "server_starting"}) == 3
            )
        )
        for _ in range(10):
            response = _call(server, "GET", "/api/v1/workflows")
            assert response.status_code == 200
            assert [w["dataset_name"] for w in response.json()["workflows"]] == NAMES
