"""Did-you-mean for keys dli uses: a warning for a likely typo, silence for other tools' keys."""

import pytest

from dli.domain.model.near_misses import closest_key, near_miss_warnings, spec_warnings

DISCOVERY = ("datasets_dir", "dataset_patterns")


@pytest.mark.parametrize(
    ("key", "known", "meant"),
    [
        ("dataset_pattern", DISCOVERY, "dataset_patterns"),
        ("datasets_dirs", DISCOVERY, "datasets_dir"),
        ("Dataset_Patterns", DISCOVERY, "dataset_patterns"),
        ("defualts", ("discovery", "defaults"), "defaults"),
        ("retry_counts", ("retry_count", "timeout_seconds"), "retry_count"),
    ],
)
def test_a_misspelt_key_names_the_key_dli_uses(key, known, meant):
    assert closest_key(key, known) == meant


@pytest.mark.parametrize(
    ("key", "known"),
    [
        # The upstream dli's own keys, next to dli workflow's in the same sections.
        ("metrics_dir", DISCOVERY),
        ("metric_patterns", DISCOVERY),
        ("environments", ("discovery", "defaults")),
        ("version", ("server",)),
        ("timeout", ("url", "token")),
        ("query_type", ("query_file", "query_statement")),
        ("schema", ("schedule",)),
        ("datasets_dir", DISCOVERY),  # a known key is no near-miss
    ],
)
def test_other_tools_keys_and_known_keys_get_no_suggestion(key, known):
    assert closest_key(key, known) is None


def test_warnings_name_the_place_the_key_and_the_right_key_and_skip_the_rest():
    warnings = near_miss_warnings(
        ["dataset_pattern", "metrics_dir", 3, "datasets_dir"], DISCOVERY, where="dli.yaml: discovery"
    )
    assert warnings == (
        "dli.yaml: discovery: 'dataset_pattern' is not a key dli uses and is ignored; did you mean 'dataset_patterns'?",
    )


def test_spec_warnings_cover_top_level_fields_and_the_execution_block():
    data = {
        "name": "a.b",
        "depend_on": ["x"],
        "query_fle": "q.sql",
        "schedul": {"cron": "0 6 * * *"},
        "type": "Dataset",
        "versions": [],
        "execution": {"timeout_second": 60, "dialect": "trino", "engine": "x"},
    }
    warnings = spec_warnings(data, where="f.yaml")
    assert [w.split("did you mean ")[1] for w in warnings] == [
        "'depends_on'?",
        "'query_file'?",
        "'schedule'?",
        "'timeout_seconds'?",
    ]
    assert warnings[-1].startswith("f.yaml: execution: 'timeout_second'")


def test_a_spec_written_for_the_upstream_dli_gets_no_warning():
    data = {
        "name": "a.b",
        "type": "Dataset",
        "query_type": "DML",
        "versions": [],
        "schema": [],
        "domains": ["x"],
        "tags": ["y"],
        "owner": "o",
        "team": "@t",
        "description": "d",
        "execution": {"timeout_seconds": 600, "retry_count": 2, "dialect": "trino"},
    }
    assert spec_warnings(data, where="f.yaml") == ()
