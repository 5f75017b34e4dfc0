"""The message bus: every operation goes through ``handle(message)``.

``HANDLERS`` maps each message type to its handler. A handler takes the message and, as keyword
arguments, the ports it names (``store``, ``orchestrator``, ``clock``, ``local_specs``); the bus
gives each handler only those, once, when it is built (dependency injection by parameter name).

``Handles`` is the application's own interface: the in-process ``MessageBus`` implements it, and so
does the Basecamp HTTP client, which sends the same messages to a server whose bus handles them.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import attrs

from dli.domain.model.dependencies import WorkflowDependenciesResult
from dli.domain.model.publish import PublishResult
from dli.domain.model.workflow import (
    DagState,
    RunLogs,
    WorkflowHistoryResult,
    WorkflowInfo,
    WorkflowListResult,
    WorkflowRegisterResult,
    WorkflowRunResult,
    WorkflowStatusResult,
)
from dli.domain.usecases import backfill, dependencies, history, listing, pause, publish, register, runs
from dli.domain.usecases.messages import (
    GetDagState,
    GetDependencies,
    GetHistory,
    GetRunLogs,
    GetRunStatus,
    GetWorkflow,
    ListWorkflows,
    Message,
    PauseWorkflow,
    PublishSpecs,
    RegisterWorkflow,
    StopRun,
    TriggerBackfill,
    TriggerRun,
    UnpauseWorkflow,
    UnregisterWorkflow,
)

__all__ = ["HANDLERS", "RESULTS", "Handles", "MessageBus"]

R = TypeVar("R")

HANDLERS: Mapping[type[Message], Callable[..., Any]] = {
    GetWorkflow: listing.get_workflow,
    GetDagState: listing.get_dag_state,
    ListWorkflows: listing.list_workflows,
    RegisterWorkflow: register.register_workflow,
    UnregisterWorkflow: register.unregister_workflow,
    PauseWorkflow: pause.pause_workflow,
    UnpauseWorkflow: pause.unpause_workflow,
    TriggerRun: runs.trigger_run,
    TriggerBackfill: backfill.trigger_backfill,
    StopRun: runs.stop_run,
    GetRunStatus: runs.get_run_status,
    GetRunLogs: runs.get_run_logs,
    GetHistory: history.get_history,
    PublishSpecs: publish.publish_specs,
    GetDependencies: dependencies.get_dependencies,
}
"""One handler per message."""

RESULTS: Mapping[type[Message], type] = {
    GetWorkflow: WorkflowInfo,
    GetDagState: DagState,
    ListWorkflows: WorkflowListResult,
    RegisterWorkflow: WorkflowRegisterResult,
    UnregisterWorkflow: WorkflowRunResult,
    PauseWorkflow: WorkflowRunResult,
    UnpauseWorkflow: WorkflowRunResult,
    TriggerRun: WorkflowRunResult,
    TriggerBackfill: WorkflowRunResult,
    StopRun: WorkflowRunResult,
    GetRunStatus: WorkflowStatusResult,
    GetRunLogs: RunLogs,
    GetHistory: WorkflowHistoryResult,
    PublishSpecs: PublishResult,
    GetDependencies: WorkflowDependenciesResult,
}
"""What each message's handler returns."""


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
        handlers: Mapping[type[Message], Callable[..., Any]] = HANDLERS,
    ) -> None:
        """Wire every handler to the ports it needs; ``actor`` is who messages run for when they do not say."""
        self.store = store
        self.orchestrator = orchestrator
        self.clock = clock
        self.actor = actor
        ports = {"store": store, "orchestrator": orchestrator, "clock": clock, "local_specs": local_specs}
        self._handlers = {kind: _inject(handler, ports) for kind, handler in handlers.items()}

    def handle(self, message: Message) -> Any:
        """Run ``message``'s handler; a message without an actor runs for the bus's actor."""
        if message.actor is None and self.actor is not None:
            message = attrs.evolve(message, actor=self.actor)
        try:
            handler = self._handlers[type(message)]
        except KeyError:
            raise TypeError(f"No handler for {type(message).__name__}") from None
        return handler(message)

    def close(self) -> None:
        """Close the ports that hold connections."""
        for port in (self.store, self.orchestrator):
            close = getattr(port, "close", None)
            if callable(close):
                close()
