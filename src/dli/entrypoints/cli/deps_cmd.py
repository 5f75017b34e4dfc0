"""``dli workflow deps``: a dataset's upstream and downstream datasets, as a tree, JSON or Mermaid."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Literal

from cyclopts import Parameter

from dli.entrypoints.cli.options import DatasetArg
from dli.entrypoints.cli.session import Session, current

if TYPE_CHECKING:
    from dli.domain.model.dependencies import DependencyNode, WorkflowDependenciesResult

__all__ = ["deps", "mermaid", "tree_lines"]

DepsFormat = Annotated[
    Literal["table", "json", "mermaid"],
    Parameter(name=["--format", "-f"], help="table (a tree), json, or mermaid (flowchart text)."),
]


def deps(
    dataset_name: DatasetArg,
    /,
    *,
    upstream: Annotated[bool, Parameter(negative="", help="Only what it depends on.")] = False,
    downstream: Annotated[bool, Parameter(negative="", help="Only what depends on it.")] = False,
    depth: Annotated[int | None, Parameter(help="At most this many steps away [default: all].")] = None,
    from_sql: Annotated[
        bool,
        Parameter(negative="", show_default=False, help="Also the tables its SQL reads, beside its depends_on."),
    ] = False,
    format: DepsFormat = "table",  # noqa: A002 - the option is --format
) -> int:
    """Show the datasets a workflow depends on and those that depend on it (externals marked)."""
    session = current()
    direction = "both" if upstream == downstream else "upstream" if upstream else "downstream"
    result = session.api.dependencies(dataset_name, direction=direction, depth=depth, from_sql=from_sql)
    if format == "json":
        from dli.entrypoints.cli.render import print_json

        print_json(session, result)
    elif format == "mermaid":
        session.write(mermaid(result))
    else:
        _render_tree(session, result)
        if result.from_sql is not None:
            _render_from_sql(session, result)
    return 0


def _render_from_sql(session: Session, result: WorkflowDependenciesResult) -> None:
    """The tables the SQL reads beside ``depends_on``: inferred and declared edges side by side."""
    session.write()
    session.write("From the SQL (tables its statements read):")
    edges = result.from_sql or ()
    for edge in edges:
        what = f"dataset {edge.dataset}" if edge.dataset else "not a dataset dli manages"
        declared = "declared in depends_on" if edge.declared else "NOT in depends_on"
        session.write(f"  {edge.table}  ({what}; {declared})")
    if not edges:
        session.write("  (none)")
    for warning in result.sql_warnings:
        session.warn(warning)


def _label(node: DependencyNode) -> str:
    if node.external:
        return f"{node.name} (external)"
    details = [
        d
        for d in (node.source_type.value if node.source_type else None, node.trigger.value if node.trigger else None)
        if d
    ]
    return f"{node.name} ({', '.join(details)})" if details else node.name


def tree_lines(result: WorkflowDependenciesResult) -> list[str]:
    """The tree as text lines: the dataset, then ``Upstream`` and/or ``Downstream`` branches.

    A dataset reached twice (a diamond) is shown under each parent; a dataset already on the
    branch (a cycle in a store written before cycles were refused) is marked and not followed.
    """
    nodes = {n.name: n for n in result.nodes}
    ups: dict[str, list[str]] = {}
    downs: dict[str, list[str]] = {}
    for edge in result.edges:
        ups.setdefault(edge.downstream, []).append(edge.upstream)
        downs.setdefault(edge.upstream, []).append(edge.downstream)

    def branch(name: str, children: dict[str, list[str]], prefix: str, seen: tuple[str, ...]) -> Iterator[str]:
        kids = sorted(children.get(name, ()))
        for index, child in enumerate(kids):
            last = index == len(kids) - 1
            node = nodes.get(child)
            text = _label(node) if node else child
            if child in seen:
                yield f"{prefix}{'└── ' if last else '├── '}{text} (cycle)"
                continue
            yield f"{prefix}{'└── ' if last else '├── '}{text}"
            yield from branch(child, children, prefix + ("    " if last else "│   "), (*seen, child))

    root = nodes[result.dataset_name]
    lines = [_label(root)]
    sides = []
    if result.direction.value in ("upstream", "both"):
        sides.append(("Upstream (depends on)", ups))
    if result.direction.value in ("downstream", "both"):
        sides.append(("Downstream (depend on it)", downs))
    for title, children in sides:
        lines.append(f"  {title}:")
        below = list(branch(result.dataset_name, children, "    ", (result.dataset_name,)))
        lines.extend(below or ["    (none)"])
    return lines


def _render_tree(session: Session, result: WorkflowDependenciesResult) -> None:
    for line in tree_lines(result):
        session.write(line)
    external = sum(1 for n in result.nodes if n.external)
    managed = len(result.nodes) - external - 1
    session.write()
    summary = f"{managed} managed dataset{'s' if managed != 1 else ''}"
    if external:
        summary += f", {external} external (no store knows {'it' if external == 1 else 'them'})"
    if result.depth is not None:
        summary += f"; at most {result.depth} step{'s' if result.depth != 1 else ''} away"
    session.write(summary)


_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def mermaid(result: WorkflowDependenciesResult) -> str:
    """A Mermaid ``flowchart`` of the result: an arrow from each upstream to its downstream; the
    dataset asked about in bold, external tables dashed."""
    ids = {n.name: f"n{i}_{_UNSAFE.sub('_', n.name)}" for i, n in enumerate(result.nodes)}
    lines = ["flowchart LR"]
    for node in result.nodes:
        text = node.name + (" (external)" if node.external else "")
        shape = f'(["{text}"])' if node.external else f'["{text}"]'
        lines.append(f"    {ids[node.name]}{shape}")
    for edge in result.edges:
        lines.append(f"    {ids[edge.upstream]} --> {ids[edge.downstream]}")
    lines.append("    classDef external stroke-dasharray: 5 5,color:#666")
    lines.append("    classDef root stroke-width:3px")
    externals = [ids[n.name] for n in result.nodes if n.external]
    if externals:
        lines.append(f"    class {','.join(externals)} external")
    lines.append(f"    class {ids[result.dataset_name]} root")
    return "\n".join(lines)
