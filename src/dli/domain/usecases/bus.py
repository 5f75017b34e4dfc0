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

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import attrs

from dli.domain.usecases.message import Message, handler_of

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


def _inject(handler: Callable[..., Any], ports: Mapping[str, object]) -> Callable[[Message[Any]], Any]:
    parameters = inspect.signature(handler).parameters
    # A port with a default in the handler's signature is one it can do without (the SQL analyzer).
    wanted = [
        name
        for name, parameter in parameters.items()
        if name != "message" and (parameter.default is inspect.Parameter.empty or ports.get(name) is not None)
    ]
    missing = [name for name in wanted if ports.get(name) is None]
    if missing:

        def unavailable(message: Message[Any]) -> Any:
            raise TypeError(f"{type(message).__name__} needs {', '.join(missing)}, which this bus was not given")

        return unavailable
    return functools.partial(handler, **{name: ports[name] for name in wanted})


class MessageBus:
    """Carries out messages in process, with the ports it was built with."""

    def __init__(
        self,
        *,
        store: object | None = None,
        orchestrator: object | None = None,
        clock: object | None = None,
        local_specs: object | None = None,
        sql_analyzer: object | None = None,
        actor: str | None = None,
    ) -> None:
        """Wire handlers to the ports they need (each on first use); ``actor`` is who messages run for
        when they do not say."""
        self.store = store
        self.orchestrator = orchestrator
        self.clock = clock
        self.actor = actor
        self._ports = {
            "store": store,
            "orchestrator": orchestrator,
            "clock": clock,
            "local_specs": local_specs,
            "sql_analyzer": sql_analyzer,
        }
        self._handlers: dict[type[Message[Any]], Callable[[Message[Any]], Any]] = {}

    def handle(self, message: Message[R]) -> R:
        """Run ``message``'s handler; a message without an actor runs for the bus's actor."""
        if message.actor is None and self.actor is not None:
            message = attrs.evolve(message, actor=self.actor)
        kind = type(message)
        handler = self._handlers.get(kind)
        if handler is None:
            handler = self._handlers[kind] = _inject(handler_of(kind), self._ports)
        result: R = handler(message)
        return result

    def close(self) -> None:
        """Close the ports that hold connections."""
        for port in (self.store, self.orchestrator):
            close = getattr(port, "close", None)
            if callable(close):
                close()
