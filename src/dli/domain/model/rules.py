"""Field rules: what a field accepts, stated once, read by the check and by the API document.

A rule is the validator of an attrs field (``checked``) and knows the JSON Schema keywords that say
the same thing, so the OpenAPI document of the Basecamp server is generated from the same objects
that check a spec or a request (``dli.adapters.codecs.specs.spec_json_schema``, the operations
table). A rule a JSON Schema cannot state (a cron that never fires, a broken Jinja template, a date
range in the wrong order) stays in code and is named in the field's ``description``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from dli.domain.model.errors import DLIError, ParameterInvalidError, SpecInvalidError, describe, field_error

__all__ = [
    "RULE",
    "Choice",
    "Date",
    "Flag",
    "Items",
    "Keys",
    "Matching",
    "Number",
    "Rule",
    "Text",
    "Whole",
    "checked",
    "rule_of",
]

RULE = "dli.rule"
"""Key of an attrs field's ``metadata`` holding its rule."""


def _with_null(keywords: dict[str, Any]) -> dict[str, Any]:
    kind = keywords.get("type")
    if not isinstance(kind, str):
        return {"anyOf": [keywords, {"type": "null"}]}
    out = {**keywords, "type": [kind, "null"]}
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


@attrs.frozen(kw_only=True)
class Rule:
    """What one field accepts. Subclasses say it twice: ``problem`` (Python) and ``keywords`` (JSON Schema)."""

    nullable: bool = False
    """``None`` (YAML's empty value, JSON's null) is accepted and means the field is not set."""
    hints: tuple[str, ...] = ()
    """How to write the field, for the error."""
    description: str | None = None
    """What the field means, and any rule JSON Schema cannot state."""
    message: Callable[[object], str] | None = None
    """The problem as the error states it, when not the rule's own wording."""

    def problem(self, value: object) -> str | None:
        """What is wrong with ``value`` (``None`` when nothing)."""
        raise NotImplementedError

    def keywords(self) -> dict[str, Any]:
        """The JSON Schema keywords of a value that is not ``None``."""
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of the field."""
        keywords = self.keywords()
        if self.nullable:
            keywords = _with_null(keywords)
        if self.description:
            keywords = {**keywords, "description": self.description}
        return keywords

    def check(self, field: str, value: object, *, error: type[DLIError] = SpecInvalidError) -> None:
        """Raise ``error`` naming ``field`` when ``value`` breaks the rule."""
        if value is None and self.nullable:
            return
        problem = self.problem(value)
        if problem is not None:
            if self.message is not None:
                problem = self.message(value)
            raise field_error(field, problem, hints=self.hints, error=error)


@attrs.frozen(kw_only=True)
class Text(Rule):
    """A string; ``non_empty``: with something besides whitespace."""

    non_empty: bool = False

    def problem(self, value: object) -> str | None:
        if not isinstance(value, str):
            return f"expected str, got {describe(value)}"
        if self.non_empty and not value.strip():
            return "must not be empty"
        return None

    def keywords(self) -> dict[str, Any]:
        # JSON Schema's \S is ECMA's: the same characters as str.strip() for every one a spec holds.
        return {"type": "string", "pattern": r"\S"} if self.non_empty else {"type": "string"}


@attrs.frozen(kw_only=True)
class Flag(Rule):
    """``true`` or ``false``."""

    hints: tuple[str, ...] = ("Write true or false, unquoted.",)

    def problem(self, value: object) -> str | None:
        return None if isinstance(value, bool) else f"expected bool, got {describe(value)}"

    def keywords(self) -> dict[str, Any]:
        return {"type": "boolean"}


@attrs.frozen(kw_only=True)
class Whole(Rule):
    """An integer from ``low`` to ``high`` (``true`` is no number)."""

    low: int
    high: int

    def problem(self, value: object) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or not self.low <= value <= self.high:
            return f"must be an integer from {self.low} to {self.high}, got {describe(value)}"
        return None

    def keywords(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.low, "maximum": self.high}


@attrs.frozen(kw_only=True)
class Choice(Rule):
    """One of a few strings."""

    values: tuple[str, ...]

    def problem(self, value: object) -> str | None:
        if isinstance(value, str) and value in self.values:
            return None
        shown = repr(value) if isinstance(value, str) else describe(value)
        if len(self.values) == 1:
            return f"expected {self.values[0]!r}, got {describe(value)}"
        return f"unknown value {shown} (one of: {', '.join(self.values)})"

    def keywords(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.values)}


@attrs.frozen(kw_only=True)
class Matching(Rule):
    """A string matching ``pattern`` as a whole, at most ``max_length`` characters, none of ``reserved``.

    ``pattern`` is written in the regular expressions Python and ECMA-262 (JSON Schema) share.
    """

    pattern: str
    what: str
    """What a matching value is, for the error: ``"an Airflow connection id"``."""
    max_length: int | None = None
    reserved: frozenset[str] = frozenset()
    """Values refused although they match, compared without case."""
    reserved_exact: frozenset[str] = frozenset()
    """Values refused although they match, compared as they are."""

    def problem(self, value: object) -> str | None:
        if (
            not isinstance(value, str)
            or (self.max_length is not None and len(value) > self.max_length)
            or not re.fullmatch(self.pattern, value)
            or value.lower() in self.reserved
            or value in self.reserved_exact
        ):
            return f"must be {self.what}, got {describe(value)}"
        return None

    def keywords(self) -> dict[str, Any]:
        # '$' would let Python's re (the validators of API clients) accept a trailing newline.
        out: dict[str, Any] = {"type": "string", "pattern": f"^(?:{self.pattern})(?![\\s\\S])"}
        if self.max_length is not None:
            out["maxLength"] = self.max_length
        refused: list[dict[str, Any]] = []
        if self.reserved:
            refused.append({"pattern": "^(?:" + "|".join(map(_any_case, sorted(self.reserved))) + ")(?![\\s\\S])"})
        if self.reserved_exact:
            refused.append({"enum": sorted(self.reserved_exact)})
        if refused:
            out["not"] = refused[0] if len(refused) == 1 else {"anyOf": refused}
        return out


@attrs.frozen(kw_only=True)
class Number(Rule):
    """A finite number; ``integer``: a whole one (``true`` is neither)."""

    integer: bool = False

    def problem(self, value: object) -> str | None:
        kinds = int if self.integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value):
            return f"expected {'an int' if self.integer else 'a finite number'}, got {describe(value)}"
        return None

    def keywords(self) -> dict[str, Any]:
        return {"type": "integer" if self.integer else "number"}


@attrs.frozen(kw_only=True)
class Date(Rule):
    """A ``YYYY-MM-DD`` text naming a real date."""

    def problem(self, value: object) -> str | None:
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                pass
            else:
                return None
        return f"expected a YYYY-MM-DD date, got {describe(value)}"

    def keywords(self) -> dict[str, Any]:
        return {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}(?![\s\S])"}


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


@attrs.frozen(kw_only=True)
class Items(Rule):
    """A list (a tuple once read) of values that each follow ``item`` (a rule, or a class read from a mapping)."""

    item: Rule | type
    label: str
    """What an item is, for the error: ``"str"``, ``"a parameter"``."""

    def problem(self, value: object) -> str | None:
        return None if isinstance(value, (tuple, list)) else f"expected a list, got {describe(value)}"

    def check(self, field: str, value: object, *, error: type[DLIError] = SpecInvalidError) -> None:
        super().check(field, value, error=error)
        if not isinstance(value, (tuple, list)):
            return  # None, which the rule allows (anything else failed the check above)
        for index, item in enumerate(value):
            if isinstance(self.item, Rule):
                self.item.check(f"{field}[{index}]", item, error=error)
            elif not isinstance(item, self.item):
                raise field_error(f"{field}[{index}]", f"expected {self.label}, got {describe(item)}", error=error)

    def keywords(self) -> dict[str, Any]:
        # Items read from a mapping are described by whoever reads them (the codec knows their wire form).
        return {"type": "array", "items": self.item.json_schema() if isinstance(self.item, Rule) else {}}


@attrs.frozen(kw_only=True)
class Keys(Rule):
    """A mapping whose keys named in ``known`` follow their rule; other keys are free."""

    known: Mapping[str, Rule]

    def problem(self, value: object) -> str | None:
        if not isinstance(value, Mapping):
            return f"expected a mapping, got {describe(value)}"
        odd = next((k for k in value if not isinstance(k, str)), None)
        return None if odd is None else f"keys must be text, got {describe(odd)}"

    def check(self, field: str, value: object, *, error: type[DLIError] = SpecInvalidError) -> None:
        super().check(field, value, error=error)
        for key, rule in self.known.items():
            if isinstance(value, Mapping) and key in value:
                rule.check(f"{field}.{key}", value[key], error=error)

    def keywords(self) -> dict[str, Any]:
        return {"type": "object", "properties": {k: r.json_schema() for k, r in self.known.items()}}


def checked(
    rule: Rule,
    *,
    label: str | None = None,
    request: bool = False,
    also: Callable[[Any, Any, Any], None] | None = None,
    **field: Any,
) -> Any:
    """An attrs field that ``rule`` checks and documents.

    ``label`` names the field in errors (default: its name); ``request``: a field of a request
    (DLI-204) rather than of a spec (DLI-203); ``also``: a validator for what a JSON Schema cannot say.
    """
    error = ParameterInvalidError if request else SpecInvalidError

    def validate(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        rule.check(label or attribute.name, value, error=error)

    validators = [validate] if also is None else [validate, also]
    return attrs.field(validator=validators, metadata={RULE: rule}, **field)


def rule_of(attribute: attrs.Attribute[Any]) -> Rule | None:
    """The rule of an attrs field, if it has one."""
    return attribute.metadata.get(RULE)
