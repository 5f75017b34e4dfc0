"""Every statement of a spec is parsed as a Jinja template where specs come in (the project loader,
for register and publish; the register API's body), so that broken Jinja is refused (DLI-203) before
it is stored instead of failing every run with TemplateSyntaxError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dli import ExecutionContext, ExecutionMode, WorkflowAPI
from dli.adapters.basecamp.operations import operation_for
from dli.adapters.codecs.specs import spec_to_dict
from dli.adapters.codecs.sql_templates import check_templates
from dli.adapters.local_project import FilesystemProject
from dli.domain.model.errors import ErrorCode, SpecInvalidError
from dli.domain.usecases.register import RegisterWorkflow
from tests.support.specs import make_spec


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("spec_yaml", "sql_file", "expected"),
    [
        (
            "pre_statements:\n  - DELETE FROM t WHERE dt = '{{ execution_date }'\nquery_statement: SELECT 1\n",
            None,
            "pre_statements[0], line 1: invalid Jinja template: unexpected '}'",
        ),
        (
            "pre_statements:\n  - SELECT 0\n  - {name: clear, sql: \"DELETE FROM t WHERE dt = '{{ day'\"}\n"
            "query_statement: SELECT 1\n",
            None,
            "pre_statements[1] (clear), line 1: invalid Jinja template",
        ),
        ("query_statement: |\n  SELECT 1\n  FROM t\n  {% if x %}\n  WHERE a\n", None, "query_statement, line"),
        (
            "query_file: sql/q.sql\n",
            "SELECT 1\nFROM t\nWHERE dt = '{{ execution_date }'\n",
            "query_file sql/q.sql, line 3: invalid Jinja template: unexpected '}'",
        ),
        (
            "query_statement: SELECT 1\npost_statements:\n  - {sql: '{% frobnicate %}', continue_on_error: true}\n",
            None,
            "post_statements[0], line 1: invalid Jinja template: Encountered unknown tag 'frobnicate'",
        ),
    ],
)
def test_a_statement_that_is_not_a_jinja_template_is_dli_203_naming_file_statement_and_line(
    tmp_path, spec_yaml, sql_file, expected
):
    write(tmp_path / "models" / "dataset.shop.x.yaml", spec_yaml)
    if sql_file is not None:
        write(tmp_path / "models" / "sql" / "q.sql", sql_file)
    with pytest.raises(SpecInvalidError) as exc:
        FilesystemProject(tmp_path).find("shop.x")
    assert exc.value.code is ErrorCode.SPEC_INVALID
    assert exc.value.message.startswith(f"{tmp_path / 'models' / 'dataset.shop.x.yaml'}: ")
    assert expected in exc.value.message
    assert any("{% raw %}" in hint for hint in exc.value.hints)


def test_the_offending_line_is_shown_in_a_hint(tmp_path):
    write(tmp_path / "models" / "sql" / "q.sql", "SELECT 1\nWHERE dt = '{{ execution_date }'\n")
    write(tmp_path / "models" / "dataset.shop.x.yaml", "query_file: sql/q.sql\n")
    with pytest.raises(SpecInvalidError) as exc:
        FilesystemProject(tmp_path).find("shop.x")
    assert exc.value.hints[0] == "query_file sql/q.sql, line 2: WHERE dt = '{{ execution_date }'"


def test_every_broken_statement_is_reported_at_once(tmp_path):
    write(
        tmp_path / "dataset.shop.x.yaml",
        "pre_statements: ['{{ a', '{{ b }}', '{% endif %}']\nquery_statement: '{{'\npost_statements: ['{{ c }']\n",
    )
    with pytest.raises(SpecInvalidError) as exc:
        FilesystemProject(tmp_path).find("shop.x")
    assert [p.split(",")[0] for p in exc.value.details["problems"]] == [
        "pre_statements[0]",
        "pre_statements[2]",
        "query_statement",
        "post_statements[0]",
    ]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT '{{ execution_date }}', {{ n | int }} FROM t",
        "{% set target = 'x' %}INSERT INTO {{ target }} SELECT 1",
        "SELECT '{{ ds | ds_nodash }}', '{{ macros.ds_add(ds, 1) }}'",  # Airflow's filters and macros
        "{% do params.update({'a': 1}) %}SELECT 1",  # Airflow enables the 'do' extension
        "{% raw %}SELECT '{{ not a template' {% endraw %}",
        "SELECT 1 {# a comment #}\n{% for d in [1, 2] %}UNION SELECT {{ d }}{% endfor %}",
        "SELECT '{' || '}' AS braces, '%' AS pct",
    ],
)
def test_valid_templates_pass_whatever_names_and_filters_they_use(tmp_path, sql):
    write(tmp_path / "dataset.shop.x.yaml", json.dumps({"query_statement": sql, "pre_statements": [sql]}))
    assert FilesystemProject(tmp_path).find("shop.x").query_statement == sql


def test_register_refuses_broken_jinja_and_registers_nothing(tmp_path):
    write(tmp_path / "dli.yaml", "project: x\n")
    write(tmp_path / "dataset.shop.x.yaml", "query_statement: SELECT '{{ execution_date }'\n")
    api = WorkflowAPI(ExecutionContext(execution_mode=ExecutionMode.MOCK, project_path=str(tmp_path)))
    with pytest.raises(SpecInvalidError, match=r"query_statement, line 1: invalid Jinja template"):
        api.register("shop.x", cron="0 9 * * *")
    assert api.get("shop.x") is None


def test_the_register_api_refuses_broken_jinja_whatever_client_sent_it():
    """The server decodes the body with the wire codec: the same check, with the body's field path."""
    body = {"spec": spec_to_dict(make_spec("shop.x", cron="0 9 * * *")), "force": False}
    body["spec"]["post_statements"] = ["SELECT 1", {"sql": "SELECT 1\nFROM t WHERE {{ x", "name": "tail"}]
    op = operation_for(RegisterWorkflow)
    with pytest.raises(SpecInvalidError) as exc:
        op.decode(path={}, query=(), body=json.dumps(body).encode(), content_type="application/json", actor="bob")
    assert exc.value.message.startswith("spec.post_statements[1] (tail), line 2: invalid Jinja template")


def test_a_query_inlined_from_a_file_is_named_by_its_file_when_checked_again():
    spec = make_spec("shop.x", cron=None, query_statement="SELECT {{ x", query_file="sql/x.sql")
    with pytest.raises(
        SpecInvalidError, match=r"^\[DLI-203\] spec\.query_statement \(from query_file sql/x\.sql\), line 1"
    ):
        check_templates(spec, where="spec")
