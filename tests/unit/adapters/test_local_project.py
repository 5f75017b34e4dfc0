import pytest

from dli.adapters.local_project import FilesystemProject, read_project_config
from dli.domain.model.errors import SpecInvalidError


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_specs_are_found_recursively_and_query_file_is_read(tmp_path):
    write(tmp_path / "dli.yaml", "server:\n  url: http://basecamp:8081\n")
    write(tmp_path / "models" / "sales" / "dataset.shop.sales.daily.yaml",
          "name: shop.sales.daily\nquery_file: sql/daily.sql\nschedule: {cron: '0 9 * * *'}\n")
    write(tmp_path / "models" / "sales" / "sql" / "daily.sql", "SELECT 42")
    write(tmp_path / "dataset.shop.other.yml", "query_statement: SELECT 1\n")
    write(tmp_path / ".venv" / "dataset.hidden.yaml", "name: hidden\nquery_statement: x\n")
    project = FilesystemProject(tmp_path)
    spec = project.find("shop.sales.daily")
    assert spec.query_statement == "SELECT 42" and spec.query_file == "sql/daily.sql"
    assert spec.schedule.cron == "0 9 * * *"
    assert project.find("shop.other").query_statement == "SELECT 1"  # name taken from the file name
    assert project.find("hidden") is None
    assert [s.name for s in project.all()] == ["shop.other", "shop.sales.daily"]
    assert read_project_config(tmp_path) == {"server": {"url": "http://basecamp:8081"}}


def test_spec_name_inside_the_file_wins(tmp_path):
    write(tmp_path / "dataset.legacy.yaml", "name: shop.renamed\nquery_statement: SELECT 1\n")
    assert FilesystemProject(tmp_path).find("shop.renamed").name == "shop.renamed"


def test_query_file_outside_the_project_is_refused(tmp_path):
    write(tmp_path / "p" / "dataset.a.b.yaml", "name: a.b\nquery_file: ../../secret.sql\n")
    write(tmp_path / "secret.sql", "x")
    with pytest.raises(SpecInvalidError) as exc:
        FilesystemProject(tmp_path / "p").find("a.b")
    assert "outside the project" in exc.value.message


def test_missing_query_file_is_a_clear_error(tmp_path):
    write(tmp_path / "dataset.a.b.yaml", "name: a.b\nquery_file: nope.sql\n")
    with pytest.raises(SpecInvalidError) as exc:
        FilesystemProject(tmp_path).find("a.b")
    assert "nope.sql" in exc.value.message


def test_all_reports_every_invalid_spec_at_once(tmp_path):
    write(tmp_path / "dataset.a.one.yaml", "name: a.one\n")
    write(tmp_path / "dataset.a.two.yaml", "name: [broken\n")
    write(tmp_path / "dataset.a.ok.yaml", "name: a.ok\nquery_statement: x\n")
    with pytest.raises(SpecInvalidError) as exc:
        FilesystemProject(tmp_path).all()
    assert "2 invalid" in exc.value.message and len(exc.value.hints) == 2


def test_missing_project_has_no_specs(tmp_path):
    project = FilesystemProject(tmp_path / "nowhere")
    assert project.find("a.b") is None and project.all() == []
    assert read_project_config(tmp_path / "nowhere") == {}
