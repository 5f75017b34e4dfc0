"""Concurrent writes through a real ``basecamp serve``: conditional writes on the store decide, so
exactly one writer wins, the others get a 409 with a DLI code, and no answer is a 5xx."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from dli.adapters.codecs.specs import spec_to_dict
from dli.domain.model.enums import SourceType
from tests.integration.server.conftest import LiveServer
from tests.support.specs import make_spec

WRITERS = 8


def _register(live: LiveServer, name: str, cron: str, *, force: bool) -> httpx.Response:
    spec = spec_to_dict(make_spec(name, cron=cron))
    return live.call("POST", "/api/v1/workflows", json={"spec": spec, "force": force})


@pytest.mark.timeout(60)
def test_concurrent_registers_of_one_name_have_exactly_one_winner(live: LiveServer) -> None:
    crons = [f"{minute} 6 * * *" for minute in range(WRITERS)]
    with ThreadPoolExecutor(WRITERS) as pool:
        answers = list(pool.map(lambda cron: _register(live, "shop.race", cron, force=False), crons))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * (WRITERS - 1)
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} <= {"DLI-804", "DLI-801"}
    (winner,) = [crons[i] for i, a in enumerate(answers) if a.status_code == 201]
    assert live.store.read(SourceType.MANUAL, "shop.race").document.schedule.cron == winner
    assert live.stored_files() == ["manual/shop.race.yaml"]


@pytest.mark.timeout(60)
def test_concurrent_forced_registers_never_lose_a_write_silently(live: LiveServer) -> None:
    assert _register(live, "shop.forced", "0 5 * * *", force=False).status_code == 201
    crons = [f"{minute} 7 * * *" for minute in range(WRITERS)]
    with ThreadPoolExecutor(WRITERS) as pool:
        answers = list(pool.map(lambda cron: _register(live, "shop.forced", cron, force=True), crons))
    assert all(a.status_code in (200, 409) for a in answers), [a.status_code for a in answers]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} <= {"DLI-801"}
    # Each 200 replaced the version it had read: the stored spec is one that a writer was told succeeded.
    succeeded = {crons[i] for i, a in enumerate(answers) if a.status_code == 200}
    assert succeeded
    assert live.store.read(SourceType.MANUAL, "shop.forced").document.schedule.cron in succeeded
