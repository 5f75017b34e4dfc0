"""What every operation is: a frozen message that names its result, its handler and its HTTP route.

A message class is the one registration point of an operation. It is defined next to its handler
(``listing.py`` holds ``ListWorkflows`` and ``list_workflows``), and says everything the rest of dli
needs to know about the operation:

- its **fields**, validated when the message is built (names, enums, limits, run ids), whatever
  builds it: the ``WorkflowAPI`` facade, the Basecamp server from a request, or a test, so handlers
  trust the message they get;
- its **result type**, as the type parameter of ``Message[R]``: ``MessageBus.handle(message)``
  returns an ``R`` (checked by mypy), and the HTTP client decodes answers into it;
- its **handler**, registered by type with ``@handles(TheMessage)`` (checked by mypy to return
  ``R``);
- its **HTTP route** (``route``), from which the server's routes, the OpenAPI document and the
  client's requests are derived, and whether it is a ``query`` (a GET, never a write).

Every message carries its ``actor``, the user it runs for; the server sets it from the caller's
token, so a client cannot act for somebody else.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, get_args, get_origin

import attrs

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import ParameterInvalidError
from dli.domain.model.names import DATASET_NAME, validate_dataset_name
from dli.domain.model.rules import RULE, Date, Flag, Matching, Whole, checked
from dli.domain.model.runs import MAX_RUN_ID_LENGTH, RUN_ID_PATTERN, split_run_id
from dli.domain.model.verbs import Verb

if TYPE_CHECKING:
    from enum import Enum

__all__ = [
    "DATE",
    "DEPTH",
    "LIMIT",
    "MAX_DEPENDENCY_DEPTH",
    "MAX_LIMIT",
    "MAX_PAGE",
    "NAME",
    "RUN_ID",
    "Message",
    "Route",
    "WorkflowMessage",
    "handler_of",
    "handles",
    "message_types",
    "result_type",
]

R = TypeVar("R")

MAX_LIMIT = 10_000
MAX_PAGE = 1_000
"""Most workflows one ``ListWorkflows`` answers: a longer listing follows ``next_cursor`` page by page."""

MAX_DEPENDENCY_DEPTH = 1_000


@attrs.frozen(kw_only=True)
class Route:
    """Where a message is served over HTTP (``Message.route``)."""

    path: str
    """Path template; ``{field}`` names a field of the message, carried in the path."""
    tag: str
    """OpenAPI tag."""
    method: str | None = None
    """HTTP method; by default GET for a query, POST otherwise."""
    created: bool = False
    """Answer 201 (200 when the result says it ``updated`` something that existed)."""
    cache_seconds: float = 0.0
    """A GET whose answer the server may reuse this long for the same query (until a write)."""


@attrs.frozen(kw_only=True, repr=False)
class Message(Generic[R]):
    """What every operation carries; ``R`` is what its handler returns."""

    query: ClassVar[bool] = False
    """Whether the operation only reads (served as a GET)."""
    route: ClassVar[Route | None] = None
    """Its HTTP route; ``None``: not served over HTTP."""
    verb: ClassVar[Verb] = Verb.VIEW
    """What it does to its workflow, as far as the policy is concerned (``dli.domain.model.access``)."""

    actor: str | None = attrs.field(default=None)
    """Who asks (``registered_by``, ``triggered_by``); the bus or the server fills it in."""

    @property
    def writes(self) -> bool:
        """Whether carrying it out changes anything (its verb writes, and it is no dry run): audited."""
        return self.verb.writes and getattr(self, "dry_run", False) is not True

    def subject(self) -> str | None:
        """The dataset the operation is about, if one: the policy decides on its team."""
        name = getattr(self, "dataset_name", None)
        if isinstance(name, str):
            return name
        run_id = getattr(self, "run_id", None)
        if isinstance(run_id, str):
            return split_run_id(run_id)[0]
        return None

    def __repr__(self) -> str:
        # Written once here rather than generated per message class: start-up time.
        fields = ", ".join(f"{a.name}={getattr(self, a.name)!r}" for a in attrs.fields(type(self)))
        return f"{type(self).__name__}({fields})"


# -- registration ------------------------------------------------------------------------------------

_HANDLERS: dict[type[Message[Any]], Callable[..., Any]] = {}


def handles(kind: type[Message[R]]) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Register the decorated function as the handler of ``kind``.

    A handler takes the message and, by keyword, the ports it needs (``store``, ``orchestrator``,
    ``clock``, ``local_specs``); it returns the message's result type.
    """

    def register(handler: Callable[..., R]) -> Callable[..., R]:
        if kind in _HANDLERS:
            raise TypeError(f"{kind.__name__} already has a handler: {_HANDLERS[kind].__qualname__}")
        _HANDLERS[kind] = handler
        return handler

    return register


def handler_of(kind: type[Message[R]]) -> Callable[..., R]:
    """The handler of a message type (registered when the module defining both is imported)."""
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise TypeError(f"No handler for {kind.__name__}") from None


def result_type(kind: type[Message[R]]) -> type[R]:
    """What the handler of a message type returns: the ``R`` of its ``Message[R]`` (or ``WorkflowMessage[R]``) base."""
    for cls in kind.__mro__:
        for base in cls.__dict__.get("__orig_bases__", ()):
            origin = get_origin(base)
            if isinstance(origin, type) and issubclass(origin, Message):
                (result,) = get_args(base)
                if not isinstance(result, type):
                    raise TypeError(f"{kind.__name__} names its result {result!r}, not a class")
                return result
    raise TypeError(f"{kind.__name__} does not name its result type (subclass Message[Result])")


def message_types() -> tuple[type[Message[Any]], ...]:
    """Every message type, in the order their modules define them.

    Imports every module of ``dli.domain.usecases`` (the server and the tests need all of them; the
    command line imports only the module of the operation it runs).
    """
    package = importlib.import_module("dli.domain.usecases")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    return tuple(_HANDLERS)


# -- field rules and validators ------------------------------------------------------------------------
# A field's rule (``dli.domain.model.rules``) both checks it and states it as JSON Schema keywords, so
# the API document generated from the messages tells clients which requests are valid.

NAME: dict[str, Any] = {RULE: DATASET_NAME}
"""Metadata of a dataset-name field: its rule, which ``check_dataset_name`` enforces."""
RUN_ID: dict[str, Any] = {
    RULE: Matching(
        pattern=RUN_ID_PATTERN.removeprefix("^").removesuffix("(?![\\s\\S])"),
        max_length=MAX_RUN_ID_LENGTH,
        what="a run id",
        description="'<dataset>@<orchestrator run id>', one percent-encoded path segment; an unknown one is 404.",
    )
}
"""Metadata of a run-id field: what a run id looks like (one that does not is no run: 404)."""
DATE = Date()
"""A ``YYYY-MM-DD`` date of a backfill range (the range's order and length are checked by the handler)."""
LIMIT = Whole(low=1, high=MAX_LIMIT, hints=(f"Pass a whole number from 1 to {MAX_LIMIT}.",))
"""How many rows an answer holds at most."""
DEPTH = Whole(
    low=1,
    high=MAX_DEPENDENCY_DEPTH,
    nullable=True,
    hints=("Pass --depth N (1 = direct dependencies only), or leave it out for all of them.",),
    description="At most this many steps away (absent: all).",
)
"""How many steps of dependencies to follow (``None``: all)."""


def flag(**field: Any) -> Any:
    """An attrs field holding ``True`` or ``False`` (not a truthy value)."""
    return checked(Flag(hints=()), request=True, **field)


def check_dataset_name(_instance: object, _attribute: object, value: Any) -> None:
    """Validator: a dataset name (DLI-204 otherwise)."""
    validate_dataset_name(value)


def check_optional_dataset_name(_instance: object, _attribute: object, value: Any) -> None:
    """Validator: a dataset name or ``None``."""
    if value is not None:
        validate_dataset_name(value)


def check_run_id(_instance: object, _attribute: object, value: Any) -> None:
    """Validator: a public run id (``<dataset>@<run>``)."""
    if not isinstance(value, str):
        raise ParameterInvalidError(f"Run id must be a string, got {type(value).__name__}")
    split_run_id(value)


E = TypeVar("E", bound="Enum")


def to_enum(cls: type[E], what: str, value: object, *, upper: bool = False) -> E | None:
    """``value`` as a member of ``cls`` (``None`` stays ``None``); DLI-204 listing the allowed values otherwise."""
    if value is None or isinstance(value, cls):
        return value
    if upper and isinstance(value, str):
        value = value.upper()
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in cls)
        raise ParameterInvalidError(f"Invalid {what}: {value!r}", hints=(f"Use one of: {allowed}.",)) from None


def to_source_type(value: object) -> SourceType | None:
    """Converter: a source type (``code``, ``manual``) or ``None``."""
    return to_enum(SourceType, "source type", value)


def to_parameters(value: object) -> dict[str, Any]:
    """Converter: run parameters, a mapping of names to values (``None``: none)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ParameterInvalidError("Parameters must be a mapping of names to values", hints=("Pass -p name=value.",))
    return dict(value)


def check_date_text(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Validator: a ``YYYY-MM-DD`` date (the range it is part of is checked by the handler, against the schedule)."""
    if DATE.problem(value) is not None:
        raise ParameterInvalidError(
            f"Invalid {attribute.name.replace('_', ' ')}: {value!r}",
            hints=("Use the YYYY-MM-DD format, e.g. 2025-01-31.",),
        )


@attrs.frozen(kw_only=True, repr=False)
class WorkflowMessage(Message[R]):
    """An operation on one workflow, named by its dataset (the policy decides on that workflow's team)."""

    dataset_name: str = attrs.field(validator=check_dataset_name, metadata=NAME)
    """The dataset."""
