"""The message bus: every operation goes through ``handle(message)``.

``HANDLERS`` maps each message type, by class name, to its handler: names, so that the bus does not
build every message class (see ``messages``). A handler takes the message and, as keyword arguments,
the ports it names (``store``, ``orchestrator``, ``clock``, ``local_specs``); the bus gives each
handler only those, once, when it is built (dependency injection by parameter name).

``Handles`` is the application's own interface: the in-process ``MessageBus`` implements it, and so
does the Basecamp HTTP client, which sends the same messages to a server whose bus handles them.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs

from dli.domain.usecases.messages import Message

__all__ = ["HANDLERS", "RESULTS", "Handles", "MessageBus", "handler_for", "result_type"]

HANDLERS: Mapping[str, str] = {
    "GetWorkflow": "listing:get_workflow",
    "GetDagState": "listing:get_dag_state",
    "ListWorkflows": "listing:list_workflows",
    "RegisterWorkflow": "register:register_workflow",
    "UnregisterWorkflow": "register:unregister_workflow",
    "PauseWorkflow": "pause:pause_workflow",
    "UnpauseWorkflow": "pause:unpause_workflow",
    "TriggerRun": "runs:trigger_run",
    "TriggerBackfill": "backfill:trigger_backfill",
    "StopRun": "runs:stop_run",
    "GetRunStatus": "runs:get_run_status",
    "GetRunLogs": "runs:get_run_logs",
    "GetHistory": "history:get_history",
    "PublishSpecs": "publish:publish_specs",
    "GetDependencies": "dependencies:get_dependencies",
}
"""One handler per message, as ``module:function`` under ``dli.domain.usecases``, imported on first use
(a command line that lists workflows does not pay for importing the publish planner)."""

RESULTS: Mapping[str, str] = {
    "GetWorkflow": "workflow:WorkflowInfo",
    "GetDagState": "workflow:DagState",
    "ListWorkflows": "workflow:WorkflowListResult",
    "RegisterWorkflow": "workflow:WorkflowRegisterResult",
    "UnregisterWorkflow": "workflow:WorkflowRunResult",
    "PauseWorkflow": "workflow:WorkflowRunResult",
    "UnpauseWorkflow": "workflow:WorkflowRunResult",
    "TriggerRun": "workflow:WorkflowRunResult",
    "TriggerBackfill": "workflow:WorkflowRunResult",
    "StopRun": "workflow:WorkflowRunResult",
    "GetRunStatus": "workflow:WorkflowStatusResult",
    "GetRunLogs": "workflow:RunLogs",
    "GetHistory": "workflow:WorkflowHistoryResult",
    "PublishSpecs": "publish:PublishResult",
    "GetDependencies": "dependencies:WorkflowDependenciesResult",
}
"""What each message's handler returns, as ``module:Class`` under ``dli.domain.model``."""


def _name(kind: type[Message] | str) -> str:
    return kind if isinstance(kind, str) else kind.__name__


def handler_for(kind: type[Message] | str, handlers: Mapping[str, Any] = HANDLERS) -> Callable[..., Any]:
    """The handler function of a message type (the class or its name)."""
    target = handlers[_name(kind)]
    if callable(target):
        return target  # type: ignore[no-any-return]
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(f"dli.domain.usecases.{module}"), name)  # type: ignore[no-any-return]


def result_type(kind: type[Message] | str) -> type:
    """The class a message type's handler returns (the message class or its name)."""
    module, _, name = RESULTS[_name(kind)].partition(":")
    return getattr(importlib.import_module(f"dli.domain.model.{module}"), name)  # type: ignore[no-any-return]


class Handles(Protocol):
    """Something that carries out messages: the in-process bus, or a client of a remote one."""

    def handle(self, message: Message) -> Any:
        """Carry out ``message`` and return its result (see ``RESULTS``); raise ``DLIError`` subclasses."""
        ...

    def close(self) -> None:
        """Release connections and other resources."""
        ...


def _inject(handler: Callable[..., Any], ports: Mapping[str, object]) -> Callable[[Message], Any]:
    wanted = [name for name in inspect.signature(handler).parameters if name != "message"]
    missing = [name for name in wanted if ports.get(name) is None]
    if missing:
        def unavailable(message: Message) -> Any:
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
        actor: str | None = None,
        handlers: Mapping[str, Any] = HANDLERS,
    ) -> None:
        """Wire handlers to the ports they need (each on first use); ``actor`` is who messages run for
        when they do not say."""
        self.store = store
        self.orchestrator = orchestrator
        self.clock = clock
        self.actor = actor
        self._ports = {"store": store, "orchestrator": orchestrator, "clock": clock, "local_specs": local_specs}
        self._known = handlers
        self._handlers: dict[str, Callable[[Message], Any]] = {}

    def handle(self, message: Message) -> Any:
        """Run ``message``'s handler; a message without an actor runs for the bus's actor."""
        if message.actor is None and self.actor is not None:
            message = attrs.evolve(message, actor=self.actor)
        kind = type(message).__name__
        handler = self._handlers.get(kind)
        if handler is None:
            if kind not in self._known:
                raise TypeError(f"No handler for {kind}")
            handler = self._handlers[kind] = _inject(handler_for(kind, self._known), self._ports)
        return handler(message)

    def close(self) -> None:
        """Close the ports that hold connections."""
        for port in (self.store, self.orchestrator):
            close = getattr(port, "close", None)
            if callable(close):
                close()
