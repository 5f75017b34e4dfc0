"""The message bus: every operation goes through ``handle(message)``.

Each message type registers its handler (``message.handles``) in the module that defines both, so
the bus finds a message's handler by its type. A handler takes the message and, as keyword
arguments, the ports it names (``store``, ``orchestrator``, ``clock``, ``local_specs``,
``sql_analyzer``; one with a default in the signature is optional); the bus
gives each handler only those, once, on first use (dependency injection by parameter name).

``Handles`` is the application's own interface: the in-process ``MessageBus`` implements it, and so
does the Basecamp HTTP client, which sends the same messages to a server whose bus handles them.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import attrs

from dli.domain.model.errors import DLIError, ServerError, StoreUnavailableError
from dli.domain.usecases.message import Message, handler_of

if TYPE_CHECKING:
    from dli.domain.model.access import Identity, Policy, Target
    from dli.domain.model.audit import AuditOutcome
    from dli.ports.audit_log import AuditLog
    from dli.ports.clock import Clock
    from dli.ports.spec_store import SpecStore

__all__ = ["Handles", "MessageBus"]

R = TypeVar("R")


class Handles(Protocol):
    """Something that carries out messages: the in-process bus, or a client of a remote one."""

    def handle(self, message: Message[R]) -> R:
        """Carry out ``message`` and return its result; raise ``DLIError`` subclasses."""
        ...

    def close(self) -> None:
        """Release connections and other resources."""
        ...


_PER_CALL = frozenset({"message", "visible"})
"""Handler parameters given per call rather than ports: ``visible`` is the caller's ``Visibility``."""


def _inject(handler: Callable[..., Any], ports: Mapping[str, object]) -> Callable[..., Any]:
    parameters = inspect.signature(handler).parameters
    # A port with a default is optional: the handler does without it (e.g. publish without an audit log).
    wanted = [
        name
        for name, parameter in parameters.items()
        if name not in _PER_CALL and (ports.get(name) is not None or parameter.default is inspect.Parameter.empty)
    ]
    missing = [name for name in wanted if ports.get(name) is None]
    if missing:

        def unavailable(message: Message[Any], **_: Any) -> Any:
            raise TypeError(f"{type(message).__name__} needs {', '.join(missing)}, which this bus was not given")

        return unavailable
    return functools.partial(handler, **{name: ports[name] for name in wanted})


class MessageBus:
    """Carries out messages in process, with the ports it was built with."""

    def __init__(
        self,
        *,
        store: SpecStore | None = None,
        orchestrator: object | None = None,
        clock: Clock | None = None,
        local_specs: object | None = None,
        sql_analyzer: object | None = None,
        actor: str | None = None,
        policy: Policy | None = None,
        audit: AuditLog | None = None,
        replica: str | None = None,
    ) -> None:
        """Wire handlers to the ports they need (each on first use); ``actor`` is who messages run for
        when they do not say.

        ``policy`` decides who may do what (none: everybody everything, today's behaviour); ``audit``
        keeps a record of every write and every refusal, written before the answer; ``replica``
        names this process in those records.
        """
        self.store = store
        self.orchestrator = orchestrator
        self.clock = clock
        self.actor = actor
        self.policy = policy
        """``None``: no policy, everybody may do everything (the policy's classes are not even loaded)."""
        self.audit = audit
        self.replica = replica
        self._ports = {
            "store": store,
            "orchestrator": orchestrator,
            "clock": clock,
            "local_specs": local_specs,
            "audit": audit,
            "policy": policy,
            "sql_analyzer": sql_analyzer,
        }
        self._handlers: dict[type[Message[Any]], tuple[Callable[..., Any], bool]] = {}

    def handle(self, message: Message[R], *, caller: Identity | None = None, request_id: str | None = None) -> R:
        """Run ``message``'s handler for ``caller`` (by default the message's actor, in process).

        With a policy, the caller must be allowed (DLI-803 otherwise, before anything is done); with
        an audit log, every write and every refusal is recorded before this returns.
        """
        if message.actor is None:
            actor = caller.name if caller is not None else self.actor
            if actor is not None:
                message = attrs.evolve(message, actor=actor)
        kind = type(message)
        found = self._handlers.get(kind)
        if found is None:
            handler = handler_of(kind)
            found = self._handlers[kind] = (
                _inject(handler, self._ports),
                "visible" in inspect.signature(handler).parameters,
            )
        handler, wants_visible = found
        audited = self.audit is not None and message.writes
        enforced = self.policy is not None and self.policy.enforced
        if not enforced and not audited:
            result: R = handler(message)
            return result
        from dli.domain.model.access import AuthMethod, Identity, Policy
        from dli.domain.model.audit import AuditOutcome
        from dli.domain.usecases.authorization import Visibility, authorize

        policy = self.policy or Policy.open()
        identity = caller or Identity(name=message.actor or "unknown", method=AuthMethod.LOCAL)
        if self.store is None:
            raise TypeError("A policy or an audit trail needs the spec store, which this bus was not given")
        targets, refused = authorize(message, identity, policy, self.store)
        if refused is not None:
            self._record(message, identity, targets, AuditOutcome.DENIED, refused, request_id)
            raise refused
        visible = Visibility(policy, identity) if wants_visible else None
        try:
            result = handler(message, visible=visible) if wants_visible else handler(message)
        except DLIError as exc:
            # A store that cannot be reached cannot keep the record either: trying would only make
            # the caller wait out its timeout twice. The request's log line (with its id) remains.
            if audited and not isinstance(exc, StoreUnavailableError):
                self._record(message, identity, targets, AuditOutcome.FAILED, exc, request_id)
            raise
        if audited:
            self._record(message, identity, targets, AuditOutcome.OK, None, request_id)
        return result

    def _record(
        self,
        message: Message[Any],
        identity: Identity,
        targets: list[Target],
        outcome: AuditOutcome,
        error: DLIError | None,
        request_id: str | None,
    ) -> None:
        from dli.domain.usecases.authorization import audit_record

        if self.audit is None:
            return
        now = self.clock.now() if self.clock is not None else dt.datetime.now(dt.UTC)
        record = audit_record(
            message,
            identity,
            targets,
            now=now,
            outcome=outcome,
            error=error,
            request_id=request_id,
            replica=self.replica,
        )
        try:
            self.audit.append(record)
        except DLIError as exc:
            done = "was done" if outcome is AuditOutcome.OK else "was not done"
            raise ServerError(
                f"The {message.verb.value} {done}, but its audit record could not be written: {exc.message}",
                hints=("Check that the spec store is writable (records go under .dli/audit/).",),
            ) from None

    def close(self) -> None:
        """Close the ports that hold connections."""
        for port in (self.store, self.orchestrator):
            close = getattr(port, "close", None)
            if callable(close):
                close()
