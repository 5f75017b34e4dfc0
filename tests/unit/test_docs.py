"""The documentation stands alone and matches the code: it cites no document outside the repository,
its relative links resolve, and the server's REST table lists exactly the API's operations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dli.adapters.basecamp.operations import operations

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SOURCES = sorted((ROOT / "src").rglob("*.py"))

# Documents that exist only where dli was designed, not in the repository.
_OUTSIDE = re.compile(r"DESIGN(\.md)?\b|WORKFLOW_FEATURE|\bspec §|feature spec|design (card|brief)", re.IGNORECASE)


@pytest.mark.parametrize("path", DOCS + SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_and_docstrings_cite_no_document_outside_the_repository(path: Path):
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if _OUTSIDE.search(line)
    ]
    assert hits == []


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_of_the_docs_resolve(path: Path):
    text = path.read_text(encoding="utf-8")
    missing = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://|#|mailto:", target):
            continue
        if not (path.parent / target.split("#")[0]).exists():
            missing.append(target)
    assert missing == []


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_files_the_docs_name_exist(path: Path):
    """A `folder/file.py` in backticks is a file of the repository (from its root, src/, src/dli/ or
    src/dli/adapters/, as the docs abbreviate), except what `dli dev up` writes at run time."""
    bases = [ROOT, ROOT / "src", ROOT / "src" / "dli", ROOT / "src" / "dli" / "adapters", path.parent]
    named = re.findall(r"`([\w./-]+/[\w.-]+\.(?:py|md|sh|yaml|toml|json))`", path.read_text(encoding="utf-8"))
    missing = [n for n in named if not n.startswith(".dli-dev/") and not any((b / n).exists() for b in bases)]
    assert missing == []


def _rest_table() -> list[tuple[str, str]]:
    """``(METHOD, path)`` of each row of docs/server.md's REST table, path parameters as ``{}``."""
    text = (ROOT / "docs" / "server.md").read_text(encoding="utf-8")
    section = text.split("## REST API", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/[^`]*)` \|", section, flags=re.MULTILINE)
    return [(method, re.sub(r"\{[^}]*\}", "{}", path)) for method, path in rows]


def test_the_server_docs_rest_table_lists_exactly_the_api_operations():
    documented = [row for row in _rest_table() if row[1].startswith("/api/")]
    served = [(op.method, re.sub(r"\{[^}]*\}", "{}", op.path)) for op in operations()]
    assert len(documented) == len(set(documented)), "a row is listed twice"
    assert sorted(documented) == sorted(served)
