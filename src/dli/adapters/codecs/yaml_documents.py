"""Reading YAML documents (spec files, ``dli.yaml``, stored documents) safely and strictly.

A safe loader (no Python objects), that also refuses what YAML itself allows but a spec never
needs: a key written twice in a mapping (the last one would silently win), documents over a size
limit, nesting too deep, and anchors/aliases that expand to a huge document (billion laughs).
Every problem is DLI-203 naming the document and, where there is one, the line.
"""

from __future__ import annotations

from typing import Any

import yaml

from dli.domain.model.errors import SpecInvalidError

__all__ = ["MAX_ALIAS_EXPANSION", "MAX_DOCUMENT_BYTES", "MAX_NESTING", "load_yaml"]

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
"""Largest YAML document read (a spec file, ``dli.yaml``, a stored document)."""
MAX_ALIAS_EXPANSION = 100_000
"""Most nodes a YAML document may hold once its aliases are expanded (a spec has a few hundred)."""
MAX_NESTING = 64
"""Deepest nesting of lists and mappings in a YAML document."""

# libyaml's C loader when PyYAML was built with it (the usual wheels are).
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_YAML_HINT = (
    "Check the indentation and the quoting on that line and the one before it: quote a value that "
    "contains ': ' or ' #', or starts with one of * & ! { [ % @ `."
)


class _RefusedYAML(yaml.MarkedYAMLError):
    """YAML that parses but is not accepted (duplicate key, alias bomb, too deep)."""

    def __init__(self, problem: str, mark: Any, hint: str) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.hint = hint


def _node_children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a node graph that is too deep or, with its aliases expanded, too large.

    An alias is the very node object of its anchor, so a billion-laughs document is a small graph
    whose expanded size is counted here in one pass over its distinct nodes (sizes memoised).
    """
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = _node_children(node)
        if not children_done:
            # The nodes opened and not yet closed are the ancestors of this one: their number is its depth.
            in_progress.add(key)
            if len(in_progress) > MAX_NESTING:
                raise _RefusedYAML(
                    f"nested more than {MAX_NESTING} levels deep", node.start_mark, "A spec needs only a few levels."
                )
            stack.append((node, True))
            for child in children:
                if id(child) in in_progress:
                    raise _RefusedYAML(
                        "an alias refers to a node that contains it", child.start_mark, "Remove the recursive alias."
                    )
                if id(child) not in sizes:
                    stack.append((child, False))
            continue
        in_progress.discard(key)
        sizes[key] = 1 + sum(sizes[id(child)] for child in children)
        if sizes[key] > MAX_ALIAS_EXPANSION:
            raise _RefusedYAML(
                f"the document expands to more than {MAX_ALIAS_EXPANSION} values (anchors and aliases)",
                node.start_mark,
                "Write the values out instead of repeating them through aliases.",
            )


class _SpecLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader, refusing duplicate keys and documents that expand too far."""

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        if node is not None:
            _check_expansion(node)
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        first_line: dict[Any, int] = {}
        for key_node, _value in node.value:
            # '<<' merges are YAML's way to override: only keys written twice are refused.
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node)
            try:
                seen = first_line.get(key)
            except TypeError:  # unhashable: the base class says so
                continue
            if seen is not None:
                raise _RefusedYAML(
                    f"duplicate key {key!r} (first at line {seen})",
                    key_node.start_mark,
                    "A key may appear once per mapping: remove or rename one of them.",
                )
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _yaml_error(exc: yaml.YAMLError, where: str) -> SpecInvalidError:
    mark = getattr(exc, "problem_mark", None)
    at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if isinstance(exc, _RefusedYAML):
        line = f"line {mark.line + 1}: " if mark is not None else ""
        return SpecInvalidError(f"{where}: {line}{problem}", hints=(exc.hint,))
    if isinstance(exc, yaml.reader.ReaderError):
        return SpecInvalidError(f"{where}: not UTF-8 text ({exc.reason})", hints=("Save the file as UTF-8.",))
    return SpecInvalidError(f"{where}: invalid YAML{at}: {problem}", hints=(_YAML_HINT,))


def load_yaml(text: str | bytes, *, where: str) -> Any:
    """Parse one YAML document safely: DLI-203 naming ``where`` when it is invalid, too large, has a
    key twice or aliases that expand too far."""
    size = len(text.encode() if isinstance(text, str) else text)
    if size > MAX_DOCUMENT_BYTES:
        raise SpecInvalidError(
            f"{where}: {size} bytes, more than the {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB a document may have",
            hints=("Move long SQL to a query_file; keep data out of spec files.",),
        )
    try:
        return yaml.load(text, Loader=_SpecLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, where) from None
    except RecursionError:  # a deeply nested flow collection, before the nesting check sees it
        raise SpecInvalidError(f"{where}: nested too deeply", hints=("A spec needs only a few levels.",)) from None
