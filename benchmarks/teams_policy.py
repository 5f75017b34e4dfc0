"""What the teams feature costs per request: the policy decision, and the audit record of a write.

    PYTHONPATH=src python benchmarks/teams_policy.py [--n 20000] [--writes 500] [--workdir /tmp/teams-bench]

1. **The decision**: ``decide`` (pure) for a caller in a policy of 50 teams, against the baseline of
   no policy at all (``Policy.open()``); and the bus's whole authorization of one message (the
   workflow's team and source read from an in-memory store, then ``decide``) against the bus
   without a policy. Printed per call, in microseconds, with their ratio.
2. **The audit record of a write**: one pause through the bus with the audit trail in a
   ``file://`` store (one file created and fsynced per record) against the same pause without the
   audit log, per request in milliseconds, and the cost of the record alone.
3. **An OIDC bearer check**: ``OIDCVerifier.identity`` of an RS256 ID token (keys cached), against
   the tokens file's check of a token, per request in microseconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from dli.adapters.clock import FakeClock
from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
from dli.adapters.stores.audit import FileAuditLog
from dli.adapters.stores.filesystem import FilesystemSpecStore
from dli.adapters.stores.memory import InMemorySpecStore
from dli.adapters.token_file import TokenFile
from dli.domain.model.access import Identity, Policy, Target, TeamRoles, decide
from dli.domain.model.enums import SourceType
from dli.domain.model.verbs import Verb
from dli.domain.usecases.bus import MessageBus
from dli.domain.usecases.listing import GetWorkflow
from dli.domain.usecases.pause import PauseWorkflow, UnpauseWorkflow
from dli.testing.specs import make_document


def _per_call(run: Callable[[], object], n: int) -> float:
    """Median seconds per call over 5 rounds of ``n`` calls."""
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(n):
            run()
        rounds.append((time.perf_counter() - started) / n)
    return statistics.median(rounds)


def _policy(teams: int) -> Policy:
    return Policy(
        admins={"group:platform"},
        teams={f"@team{i}": TeamRoles(editors={f"group:t{i}"}, operators={f"user{i}"}, viewers={"*"}) for i in range(teams)},
        default=TeamRoles(viewers={"*"}),
    )


def decision(n: int) -> None:
    policy, caller = _policy(50), Identity(name="bob", groups={"t7", "t8", "other"})
    target = Target(team="@team8", source=SourceType.MANUAL)
    open_policy = Policy.open()
    with_policy = _per_call(lambda: decide(policy, caller, Verb.UNREGISTER, target), n)
    without = _per_call(lambda: decide(open_policy, caller, Verb.UNREGISTER, target), n)
    print(f"decide, 50 teams:              {with_policy * 1e6:7.2f} us/call  (no policy: {without * 1e6:.2f} us, x{with_policy / without:.2f})")

    clock = FakeClock(dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
    store = InMemorySpecStore()
    store.create(SourceType.MANUAL, make_document("shop.sales.daily", team="@team8"))
    orchestrator = InMemoryOrchestrator(clock=clock, store=store)
    orchestrator.sync("shop.sales.daily")
    message = GetWorkflow(dataset_name="shop.sales.daily")
    enforced = MessageBus(store=store, orchestrator=orchestrator, clock=clock, policy=policy)
    plain = MessageBus(store=store, orchestrator=orchestrator, clock=clock)
    from dli.domain.usecases.authorization import authorize

    alone = _per_call(lambda: authorize(message, caller, policy, store), n)
    print(f"authorize (team lookup+decide): {alone * 1e6:6.2f} us/call")
    a = _per_call(lambda: enforced.handle(message, caller=caller), n // 4)
    b = _per_call(lambda: plain.handle(message, caller=caller), n // 4)
    print(f"bus, GetWorkflow with policy:  {a * 1e6:7.2f} us/call  (no policy: {b * 1e6:.2f} us, +{(a - b) * 1e6:.2f} us, x{a / b:.2f})")


def audit(writes: int, workdir: Path) -> None:
    clock = FakeClock(dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
    root = workdir / "store"
    store = FilesystemSpecStore(root)
    store.create(SourceType.MANUAL, make_document("shop.sales.daily", team="@de"))
    orchestrator = InMemoryOrchestrator(clock=clock, store=store)
    orchestrator.sync("shop.sales.daily")
    caller = Identity(name="bob")
    audited = MessageBus(store=store, orchestrator=orchestrator, clock=clock, audit=FileAuditLog(root))
    plain = MessageBus(store=store, orchestrator=orchestrator, clock=clock)

    def toggle(bus: MessageBus) -> Callable[[], object]:
        state = {"paused": False}

        def run() -> object:
            state["paused"] = not state["paused"]
            kind = PauseWorkflow if state["paused"] else UnpauseWorkflow
            return bus.handle(kind(dataset_name="shop.sales.daily"), caller=caller)

        return run

    a = _per_call(toggle(audited), writes)
    b = _per_call(toggle(plain), writes)
    count = len(list((root / ".dli" / "audit").iterdir()))
    print(f"pause/unpause, file store:     {a * 1e3:7.3f} ms/write with audit  (without: {b * 1e3:.3f} ms, "
          f"+{(a - b) * 1e3:.3f} ms per record, x{a / b:.2f}; {count} records written)")


def oidc(n: int, workdir: Path) -> None:
    try:
        from joserfc import jwt
        from joserfc.jwk import KeySet, RSAKey

        from dli.adapters.oidc import OIDCVerifier
    except ImportError:
        print("oidc: the 'oidc' extra is not installed")
        return
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    verifier = OIDCVerifier("https://idp.example.com", "dli")
    verifier._keys = KeySet([key])  # cached keys, as after the first fetch
    verifier._kids = frozenset({"k1"})
    verifier._fetched_at = time.monotonic()
    now = int(time.time())
    token = jwt.encode({"alg": "RS256", "kid": "k1"},
                       {"iss": "https://idp.example.com", "aud": "dli", "email": "a@example.com", "exp": now + 3600}, key)
    assert verifier.identity(token) is not None
    tokens = TokenFile(workdir / "tokens.json")
    bearer = tokens.add("alice")
    a = _per_call(lambda: verifier.identity(token), n // 10)
    b = _per_call(lambda: tokens.identity(bearer), n // 10)
    print(f"bearer check, OIDC RS256:      {a * 1e6:7.2f} us/request  (tokens file: {b * 1e6:.2f} us, x{a / b:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--writes", type=int, default=500)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        decision(args.n)
        audit(args.writes, workdir)
        oidc(args.n, workdir)


if __name__ == "__main__":
    main()
