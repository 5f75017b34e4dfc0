"""``dli workflow publish`` (the Code path) end to end over a filesystem store and S3 (moto)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from dli.adapters.codecs.specs import spec_to_dict
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import ConfigurationError, SpecInvalidError
from dli.domain.usecases.publish import PublishSpecs
from dli.entrypoints.bootstrap import build_publisher, build_store
from dli.entrypoints.cli.app import invoke
from tests.support.backends import write_spec
from tests.support.bad_input import billion_laughs
from tests.support.specs import make_document, make_spec

CODE, MANUAL = SourceType.CODE, SourceType.MANUAL


@pytest.fixture(params=["file", "s3"])
def store_url(request, tmp_path, monkeypatch) -> str:
    if request.param == "file":
        return (tmp_path / "store").as_uri()
    server = request.getfixturevalue("moto_server")
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    return f"s3://{server.new_bucket()}/specs"


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    write_spec(root, make_spec("shop.sales.daily", cron="0 9 * * *"))
    write_spec(root, make_spec("shop.sales.hourly", cron="0 * * * *"), subdir="models/hourly")
    write_spec(root, make_spec("shop.dim.plain", cron=None))  # not scheduled: not a workflow
    # A spec whose SQL lives in a file: the stored spec must carry the SQL itself.
    (root / "models" / "weekly.sql").write_text("SELECT week FROM t")
    data = spec_to_dict(make_spec("shop.sales.weekly", cron="0 6 * * 1"))
    data.pop("query_statement")
    data["query_file"] = "weekly.sql"
    (root / "models" / "dataset.shop.sales.weekly.yaml").write_text(yaml.safe_dump(data))
    return root


def publish(project: Path, store_url: str, *, publisher: str | None = None, **options):
    """What ``dli workflow publish`` runs: the PublishSpecs message on the publisher's bus."""
    bus = build_publisher(store_url=store_url, project_path=project)
    return bus.handle(PublishSpecs(actor=publisher, **options))


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = invoke(["workflow", "publish", *args], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def snapshot(store) -> dict[str, str]:
    return dict(store.list_etags(CODE))


def test_publish_creates_every_scheduled_spec_under_code(project, store_url, monkeypatch):
    monkeypatch.setenv("DLI_PUBLISHER", "github-actions")
    code, out, _ = run_cli("--path", str(project), "--store", store_url, "--format", "json")
    assert code == 0
    result = json.loads(out)
    assert result["summary"]["create"] == 3
    assert tuple(result["skipped"]) == ("shop.dim.plain",)
    store = build_store(store_url)
    assert sorted(store.list_etags(CODE)) == ["shop.sales.daily", "shop.sales.hourly", "shop.sales.weekly"]
    weekly = store.read(CODE, "shop.sales.weekly").document
    assert weekly.spec.query_statement == "SELECT week FROM t"
    assert weekly.source_type is CODE and weekly.registered_by == "github-actions"
    assert store.list_etags(MANUAL) == {}


def test_publishing_again_rewrites_nothing(project, store_url):
    publish(project, store_url)
    before = snapshot(build_store(store_url))
    again = publish(project, store_url, publisher="someone-else")
    assert again.summary["unchanged"] == 3 and not again.changed
    assert snapshot(build_store(store_url)) == before  # same etags: not even re-uploaded


def test_a_changed_spec_is_updated_and_the_others_untouched(project, store_url):
    publish(project, store_url)
    before = snapshot(build_store(store_url))
    write_spec(project, make_spec("shop.sales.daily", cron="30 7 * * *"))
    result = publish(project, store_url)
    assert {i.dataset_name: i.action.value for i in result.items if i.action.value != "unchanged"} == {
        "shop.sales.daily": "update"
    }
    after = snapshot(build_store(store_url))
    assert after["shop.sales.daily"] != before["shop.sales.daily"]
    assert after["shop.sales.hourly"] == before["shop.sales.hourly"]
    assert build_store(store_url).read(CODE, "shop.sales.daily").document.schedule.cron == "30 7 * * *"


def test_a_spec_removed_from_the_project_is_deleted_only_with_prune(project, store_url):
    publish(project, store_url)
    (project / "models" / "hourly" / "dataset.shop.sales.hourly.yaml").unlink()
    kept = publish(project, store_url)
    assert kept.summary["keep"] == 1
    assert "shop.sales.hourly" in build_store(store_url).list_etags(CODE)
    pruned = publish(project, store_url, prune=True)
    assert pruned.summary["delete"] == 1
    assert "shop.sales.hourly" not in build_store(store_url).list_etags(CODE)


def test_manual_specs_are_never_touched_even_with_prune(project, store_url):
    store = build_store(store_url)
    store.create(MANUAL, make_document("shop.sales.daily", cron="0 1 * * *"))
    store.create(MANUAL, make_document("shop.manual.only"))
    manual_before = dict(store.list_etags(MANUAL))
    publish(project, store_url, prune=True)
    assert dict(build_store(store_url).list_etags(MANUAL)) == manual_before


def test_one_invalid_spec_aborts_the_whole_publish(project, store_url):
    publish(project, store_url)
    before = snapshot(build_store(store_url))
    write_spec(project, make_spec("shop.sales.daily", cron="0 3 * * *"))  # a valid change...
    (project / "models" / "dataset.shop.broken.yaml").write_text(
        "name: shop.broken\nquery_statement: SELECT 1\nschedule:\n  cron: 'not a cron'\n"
    )
    with pytest.raises(SpecInvalidError) as info:
        publish(project, store_url, prune=True)
    assert info.value.code.value == "DLI-203"
    assert "dataset.shop.broken.yaml" in " ".join([info.value.message, *info.value.hints])
    assert snapshot(build_store(store_url)) == before  # ...is not published either


def test_dry_run_writes_nothing(project, store_url):
    result = publish(project, store_url, dry_run=True)
    assert result.dry_run and result.summary["create"] == 3
    assert build_store(store_url).list_etags(CODE) == {}


def test_a_directory_that_is_not_a_project_is_refused_before_pruning_anything(tmp_path, project, store_url):
    publish(project, store_url)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigurationError):
        publish(empty, store_url, prune=True)
    assert len(build_store(store_url).list_etags(CODE)) == 3


# -- the command ----------------------------------------------------------------------------------


def test_cli_shows_the_plan_as_a_table(project, store_url):
    code, out, err = run_cli("--path", str(project), "--store", store_url, "--dry-run")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["DATASET", "ACTION", "CRON"]
    assert any(line.split()[:2] == ["shop.sales.daily", "create"] for line in lines)
    assert "Nothing was written" in out and "shop.dim.plain" in out
    assert build_store(store_url).list_etags(CODE) == {}


def test_cli_json_output_lists_every_action(project, store_url):
    code, out, err = run_cli("--path", str(project), "--store", store_url, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["store"] == build_store(store_url).url
    assert {i["dataset_name"]: i["action"] for i in data["items"]} == {
        "shop.sales.daily": "create",
        "shop.sales.hourly": "create",
        "shop.sales.weekly": "create",
    }
    code, out, _ = run_cli("--path", str(project), "--store", store_url, "--format", "json")
    assert {i["action"] for i in json.loads(out)["items"]} == {"unchanged"}


def test_cli_invalid_spec_exits_non_zero_with_dli_203(project, store_url):
    (project / "models" / "dataset.shop.broken.yaml").write_text("name: [not, a, name]\n")
    code, out, err = run_cli("--path", str(project), "--store", store_url)
    assert code != 0
    assert "DLI-203" in err and "Traceback" not in err
    assert build_store(store_url).list_etags(CODE) == {}


def test_cli_unknown_store_scheme_is_dli_001(project):
    code, _, err = run_cli("--path", str(project), "--store", "ftp://example.com/x")
    assert code != 0 and "DLI-001" in err


@pytest.mark.timeout(60)
def test_cli_a_billion_laughs_spec_aborts_the_publish_fast_and_writes_nothing(project, store_url):
    bomb = billion_laughs("shop.bomb") + "schedule: {cron: '0 6 * * *'}\n"
    (project / "models" / "dataset.shop.bomb.yaml").write_text(bomb)
    code, out, err = run_cli("--path", str(project), "--store", store_url, "--prune")
    assert code == 2 and out == ""
    assert "DLI-203" in err and "dataset.shop.bomb.yaml" in err and "anchors and aliases" in err
    assert "Traceback" not in err
    assert build_store(store_url).list_etags(CODE) == {}


def test_a_spec_with_broken_jinja_aborts_publish_naming_the_file_statement_and_line(project, tmp_path):
    store_url = (tmp_path / "jinja-store").as_uri()
    (project / "models" / "dataset.shop.jinja.yaml").write_text(
        "name: shop.jinja\nquery_statement: SELECT 1\npost_statements:\n  - {name: tidy, sql: \"DELETE FROM t WHERE dt = '{{ ds }'\"}\n"
        "schedule: {cron: '0 9 * * *'}\n"
    )
    code, _, err = run_cli("--path", str(project), "--store", store_url)
    assert code == 2
    assert (
        "DLI-203" in err and "dataset.shop.jinja.yaml: post_statements[0] (tidy), line 1: invalid Jinja template" in err
    )
    assert build_store(store_url).list_etags(CODE) == {}


def test_cli_says_when_the_servers_list_will_show_a_change_and_only_after_one(project, tmp_path):
    """``list`` answers from the server's index, refreshed every check interval: publish says so."""
    from dli.entrypoints.cli.publish_cmd import CHANGE_SHOWS

    store_url = (tmp_path / "note-store").as_uri()
    _, dry, _ = run_cli("--path", str(project), "--store", store_url, "--dry-run")
    _, first, _ = run_cli("--path", str(project), "--store", store_url)
    _, again, _ = run_cli("--path", str(project), "--store", store_url)
    assert CHANGE_SHOWS not in dry and CHANGE_SHOWS in first and CHANGE_SHOWS not in again
    assert first.rstrip().endswith(CHANGE_SHOWS)


def test_the_check_intervals_publish_names_are_those_the_server_and_the_dev_stack_use():
    import inspect

    from dli.entrypoints.cli.publish_cmd import CHANGE_SHOWS
    from dli.entrypoints.devstack.stack import CHECK_INTERVAL_SECONDS
    from dli.entrypoints.server.cli import serve

    default = inspect.signature(serve).parameters["check_interval"].default
    assert f"({default:g} s by default; {CHECK_INTERVAL_SECONDS} s for dli dev up)" in CHANGE_SHOWS


# -- dependencies ----------------------------------------------------------------------------------


def test_a_dependency_cycle_in_the_project_refuses_the_publish_naming_it_and_writes_nothing(tmp_path):
    root = tmp_path / "cyclic"
    write_spec(root, make_spec("shop.a", depends_on=("shop.b",)))
    write_spec(root, make_spec("shop.b", cron=None, after="upstream", depends_on=("shop.a",)))
    url = (tmp_path / "store").as_uri()
    for dry_run in (True, False):
        with pytest.raises(SpecInvalidError) as exc:
            publish(root, url, dry_run=dry_run)
        assert "Dependency cycle: shop.a -> shop.b -> shop.a" in exc.value.message
    assert build_store(url).list_etags(CODE) == {}


def test_a_cycle_through_a_manual_spec_is_refused_too(tmp_path):
    url = (tmp_path / "store").as_uri()
    build_store(url).create(MANUAL, make_document("shop.m", depends_on=("shop.a",)))
    root = tmp_path / "project"
    write_spec(root, make_spec("shop.a", depends_on=("shop.m",)))
    with pytest.raises(SpecInvalidError, match="shop.a -> shop.m -> shop.a"):
        publish(root, url)
    assert build_store(url).list_etags(CODE) == {}


def test_pruning_a_code_spec_checks_the_manual_spec_that_becomes_active_again(tmp_path):
    url = (tmp_path / "store").as_uri()
    store = build_store(url)
    store.create(MANUAL, make_document("shop.x", depends_on=("shop.a",)))  # overridden by code, for now
    store.create(CODE, make_document("shop.x", source=CODE))
    root = tmp_path / "project"
    write_spec(root, make_spec("shop.a", depends_on=("shop.x",)))
    publish(root, url)  # fine while code's shop.x depends on nothing
    with pytest.raises(SpecInvalidError, match="shop.a -> shop.x -> shop.a"):
        publish(root, url, prune=True)
    assert set(store.list_etags(CODE)) == {"shop.a", "shop.x"}


def test_external_upstreams_are_published_with_a_warning(tmp_path):
    root = tmp_path / "project"
    # SQL that reads its upstream, in a dialect: the SQL check has nothing to add.
    spec = make_spec(
        "shop.a",
        depends_on=("erp.fx_rates",),
        execution={"dialect": "trino"},
        query_statement="SELECT * FROM erp.fx_rates",
    )
    write_spec(root, spec)
    result = publish(root, (tmp_path / "store").as_uri())
    assert [i.action.value for i in result.items] == ["create"]
    (warning,) = result.warnings
    assert "'shop.a' depends on erp.fx_rates, which no store knows" in warning
    code, out, err = run_cli("--store", (tmp_path / "store").as_uri(), "--path", str(root))
    assert code == 0 and "Warning: 'shop.a' depends on erp.fx_rates" in err
