import pytest

from dli.adapters.local_project import MAX_QUERY_FILE_BYTES, FilesystemProject
from dli.adapters.project_config import read_project_config
from dli.domain.model.errors import SpecInvalidError


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_specs_are_found_recursively_and_query_file_is_read(tmp_path):
    write(tmp_path / "dli.yaml", "server:\n  url: http://basecamp:8081\n")
    write(
        tmp_path / "models" / "sales" / "dataset.shop.sales.daily.yaml",
        "name: shop.sales.daily\nquery_file: sql/daily.sql\nschedule: {cron: '0 9 * * *'}\n",
    )
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
    assert read_project_config(tmp_path).server_url == "http://basecamp:8081"


def test_a_file_named_for_another_dataset_is_refused_naming_the_file_and_both_names(tmp_path):
    write(tmp_path / "dataset.a.yaml", "name: b\nquery_statement: SELECT 1\n")
    project = FilesystemProject(tmp_path)
    for call in (lambda: project.find("a"), lambda: project.find("b"), project.all):
        with pytest.raises(SpecInvalidError) as exc:
            call()
        text = " ".join([exc.value.message, *exc.value.hints])
        assert "dataset.a.yaml" in text and "'a'" in text and "'b'" in text


def test_the_same_dataset_in_two_files_is_refused_naming_both(tmp_path):
    write(tmp_path / "one" / "dataset.shop.x.yaml", "query_statement: SELECT 1\n")
    write(tmp_path / "two" / "dataset.shop.x.yml", "name: shop.x\nquery_statement: SELECT 2\n")
    project = FilesystemProject(tmp_path)
    with pytest.raises(SpecInvalidError) as exc:
        project.find("shop.x")
    assert str(tmp_path / "one" / "dataset.shop.x.yaml") in exc.value.message
    assert str(tmp_path / "two" / "dataset.shop.x.yml") in exc.value.message
    with pytest.raises(SpecInvalidError) as exc:
        project.all()
    assert "defined in 2 files" in " ".join(exc.value.hints)


def test_a_name_carried_inside_a_dataset_yaml_counts_for_duplicates(tmp_path):
    write(tmp_path / "dli.yaml", "discovery: {dataset_patterns: ['dataset.*.yaml', 'dataset.yaml']}\n")
    write(tmp_path / "a" / "dataset.yaml", "name: shop.x\nquery_statement: SELECT 1\n")
    write(tmp_path / "b" / "dataset.shop.x.yaml", "query_statement: SELECT 2\n")
    with pytest.raises(SpecInvalidError) as exc:
        FilesystemProject(tmp_path).find("shop.x")
    assert "a/dataset.yaml" in exc.value.message and "b/dataset.shop.x.yaml" in exc.value.message


def test_discovery_settings_of_dli_yaml_are_honoured(tmp_path):
    write(
        tmp_path / "dli.yaml",
        "discovery:\n  datasets_dir: datasets\n  dataset_patterns: ['dataset.*.yaml', 'dataset.yaml']\n",
    )
    write(tmp_path / "datasets" / "orders" / "dataset.yaml", "name: shop.orders\nquery_statement: SELECT 1\n")
    write(tmp_path / "datasets" / "dataset.shop.sales.yaml", "query_statement: SELECT 2\n")
    write(tmp_path / "datasets" / "dataset.shop.old.yml", "query_statement: SELECT 3\n")  # not a pattern
    write(tmp_path / "elsewhere" / "dataset.shop.outside.yaml", "query_statement: SELECT 4\n")
    project = FilesystemProject(tmp_path)
    assert [s.name for s in project.all()] == ["shop.orders", "shop.sales"]
    assert project.find("shop.orders").query_statement == "SELECT 1"
    assert project.find("shop.outside") is None and project.find("shop.old") is None


def test_by_default_specs_are_dataset_dot_name_files_anywhere(tmp_path):
    write(tmp_path / "dli.yaml", "project: x\n")
    write(tmp_path / "deep" / "er" / "dataset.a.b.yml", "query_statement: SELECT 1\n")
    write(tmp_path / "dataset.yaml", "name: c.d\nquery_statement: SELECT 2\n")
    assert [s.name for s in FilesystemProject(tmp_path).all()] == ["a.b"]


def test_a_dataset_yaml_must_name_its_dataset(tmp_path):
    write(tmp_path / "dli.yaml", "discovery: {dataset_patterns: [dataset.yaml]}\n")
    write(tmp_path / "x" / "dataset.yaml", "query_statement: SELECT 1\n")
    with pytest.raises(SpecInvalidError) as exc:
        FilesystemProject(tmp_path).all()
    assert "x/dataset.yaml: name: missing required field" in exc.value.hints[0]


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ("discovery: {datasets_dir: ../elsewhere}", "discovery.datasets_dir: '../elsewhere' is not inside the project"),
        ("discovery: {datasets_dir: /etc}", "discovery.datasets_dir: '/etc' is not inside the project"),
        ("discovery: {datasets_dir: missing}", "discovery.datasets_dir: 'missing' is not a folder of the project"),
        ("discovery: {dataset_patterns: 'dataset.*.yaml'}", "discovery.dataset_patterns: expected a non-empty list"),
        ("discovery: {dataset_patterns: ['*.sql']}", "discovery.dataset_patterns[0]: invalid pattern '*.sql'"),
        ("discovery: {dataset_patterns: ['a/dataset.yaml']}", "discovery.dataset_patterns[0]: invalid pattern"),
        ("discovery: {datasets_dir: 3}", "discovery.datasets_dir: expected a folder name, got 3"),
        ("discovery: [x]", "discovery: expected a mapping"),
        ("defaults: {timeout_seconds: -5}", "defaults.timeout_seconds: must be an integer from 1 to 604800"),
        ("defaults: {retry_count: '2'}", "defaults.retry_count: must be an integer"),
        ("defaults: [trino]", "defaults: expected a mapping"),
    ],
)
def test_invalid_dli_yaml_settings_are_dli_203_naming_the_field(tmp_path, config, needle):
    write(tmp_path / "dli.yaml", config + "\n")
    write(tmp_path / "dataset.a.b.yaml", "query_statement: SELECT 1\n")
    with pytest.raises(SpecInvalidError) as exc:
        FilesystemProject(tmp_path).find("a.b")
    assert exc.value.message.startswith(f"{tmp_path / 'dli.yaml'}: {needle}")
    assert exc.value.hints


def test_project_defaults_fill_the_execution_block_and_the_spec_wins(tmp_path):
    write(
        tmp_path / "dli.yaml",
        "defaults: {dialect: trino, timeout_seconds: 3600, retry_count: 2, retry_delay_seconds: 30}\n",
    )
    write(tmp_path / "dataset.a.one.yaml", "query_statement: SELECT 1\nexecution: {timeout_seconds: 60, conn_id: wh}\n")
    write(tmp_path / "dataset.a.two.yaml", "query_statement: SELECT 2\n")
    project = FilesystemProject(tmp_path)
    assert project.find("a.one").execution == {
        "dialect": "trino",
        "timeout_seconds": 60,
        "retry_count": 2,
        "retry_delay_seconds": 30,
        "conn_id": "wh",
    }
    assert [s.execution["timeout_seconds"] for s in project.all()] == [60, 3600]


def test_a_query_file_that_is_not_utf8_is_dli_203_naming_it(tmp_path):
    write(tmp_path / "dataset.a.b.yaml", "query_file: sql/q.sql\n")
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "q.sql").write_bytes("SELECT 'café'".encode("latin-1"))
    with pytest.raises(SpecInvalidError) as exc:
        FilesystemProject(tmp_path).find("a.b")
    assert exc.value.code.value == "DLI-203"
    assert "dataset.a.b.yaml" in exc.value.message and "sql/q.sql" in exc.value.message
    assert "not UTF-8" in exc.value.message


def test_an_oversized_query_file_is_refused(tmp_path):
    write(tmp_path / "dataset.a.b.yaml", "query_file: q.sql\n")
    (tmp_path / "q.sql").write_bytes(b"-" * (MAX_QUERY_FILE_BYTES + 1))
    with pytest.raises(SpecInvalidError) as exc:
        FilesystemProject(tmp_path).find("a.b")
    assert "q.sql" in exc.value.message and "larger than" in exc.value.message


def test_a_spec_file_with_a_duplicate_key_is_refused(tmp_path):
    write(tmp_path / "dataset.a.b.yaml", "query_statement: SELECT 1\nowner: x\nowner: y\n")
    with pytest.raises(SpecInvalidError) as exc:
        FilesystemProject(tmp_path).find("a.b")
    assert "duplicate key 'owner'" in exc.value.message and "dataset.a.b.yaml" in exc.value.message


def test_a_spec_file_with_a_wrongly_typed_field_names_the_file_and_field(tmp_path):
    write(tmp_path / "dataset.a.b.yaml", "query_statement: SELECT 1\nschedule: {cron: '0 9 * * *', enabled: 'false'}\n")
    with pytest.raises(SpecInvalidError) as exc:
        FilesystemProject(tmp_path).find("a.b")
    assert exc.value.message == f"{tmp_path / 'dataset.a.b.yaml'}: schedule.enabled: expected bool, got str 'false'"


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
    config = read_project_config(tmp_path / "nowhere")
    assert (config.datasets_dir, config.defaults, config.server_url) == (tmp_path / "nowhere", {}, None)


def test_a_datasets_dir_linking_outside_the_project_is_refused(tmp_path):
    (tmp_path / "outside").mkdir()
    write(tmp_path / "p" / "dli.yaml", "discovery: {datasets_dir: specs}\n")
    (tmp_path / "p" / "specs").symlink_to(tmp_path / "outside")
    with pytest.raises(SpecInvalidError) as exc:
        FilesystemProject(tmp_path / "p").all()
    assert "discovery.datasets_dir: 'specs' is not inside the project" in exc.value.message


def test_metric_and_quality_files_and_dli_yaml_are_never_read_as_datasets_whatever_the_patterns(tmp_path):
    # A pattern as wide as '*.yaml' would match them: they belong to other tools (and would be invalid specs).
    write(tmp_path / "dli.yaml", "discovery: {dataset_patterns: ['*.yaml']}\n")
    write(tmp_path / "metric.iceberg.a.yaml", "name: iceberg.a\nmetrics: [x]\n")
    write(tmp_path / "metrics" / "metric.yaml", "name: m\n")
    write(tmp_path / "quality.iceberg.a.yaml", "target: iceberg.a\nrules: []\n")
    write(tmp_path / "quality.yml", "rules: []\n")
    write(tmp_path / "sales.yaml", "name: shop.sales\nquery_statement: SELECT 1\n")
    assert [s.name for s in FilesystemProject(tmp_path).all()] == ["shop.sales"]


def test_an_upstream_dli_project_reads_only_its_datasets_dir_with_its_patterns(tmp_path):
    write(
        tmp_path / "dli.yaml",
        "version: '1'\nproject: {name: p}\n"
        "discovery: {datasets_dir: datasets, metrics_dir: metrics, metric_patterns: ['metric.*.yaml'],"
        " dataset_patterns: ['dataset.*.yaml', 'dataset.yaml']}\n"
        "defaults: {dialect: trino, retry_count: 2}\nenvironments: {dev: {connection_string: 'trino://x'}}\n"
        "server: {url: 'http://localhost:8081', timeout: 30}\n",
    )
    write(
        tmp_path / "datasets" / "feed" / "dataset.iceberg.a.yaml",
        "name: iceberg.a\ntype: Dataset\nquery_type: DML\nquery_statement: SELECT 1\n"
        "versions: [{version: v1, started_at: 2024-01-01}]\nschema: [{name: dt, type: date}]\n",
    )
    write(tmp_path / "datasets" / "dataset.yaml", "name: iceberg.b\nquery_statement: SELECT 2\n")
    write(tmp_path / "dataset.iceberg.outside.yaml", "query_statement: SELECT 3\n")  # not under datasets_dir
    write(tmp_path / "metrics" / "metric.iceberg.m.yaml", "name: iceberg.m\n")
    write(tmp_path / "quality.iceberg.a.yaml", "rules: []\n")
    project = FilesystemProject(tmp_path)
    assert [s.name for s in project.all()] == ["iceberg.a", "iceberg.b"]
    spec = project.find("iceberg.a")
    assert spec.execution == {"dialect": "trino", "retry_count": 2}
    assert spec.extra["versions"] == [{"version": "v1", "started_at": "2024-01-01"}]
    assert spec.extra["type"] == "Dataset" and spec.extra["query_type"] == "DML"
    assert project.warnings() == ()


def test_a_spec_field_that_looks_misspelt_is_kept_and_warned_once_naming_the_field_dli_uses(tmp_path):
    write(tmp_path / "dli.yaml", "discovery: {dataset_pattern: ['x.yaml']}\n")
    write(
        tmp_path / "dataset.a.b.yaml",
        "query_statement: SELECT 1\ndepend_on: [a.c]\nexecution: {retry_counts: 2}\nversions: []\n",
    )
    project = FilesystemProject(tmp_path)
    spec = project.find("a.b")
    project.find("a.b")
    assert spec.depends_on == () and spec.extra["depend_on"] == ["a.c"]
    assert spec.execution == {"retry_counts": 2}  # kept, as every execution key dli does not use
    spec_file = tmp_path / "dataset.a.b.yaml"
    assert project.warnings() == (
        f"{tmp_path / 'dli.yaml'}: discovery: 'dataset_pattern' is not a key dli uses and is ignored; "
        "did you mean 'dataset_patterns'?",
        f"{spec_file}: 'depend_on' is not a key dli uses and is ignored; did you mean 'depends_on'?",
        f"{spec_file}: execution: 'retry_counts' is not a key dli uses and is ignored; did you mean 'retry_count'?",
    )
