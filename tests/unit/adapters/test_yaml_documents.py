import time

import pytest

from dli.adapters.codecs.specs import document_from_bytes
from dli.adapters.codecs.yaml_documents import MAX_ALIAS_EXPANSION, load_yaml
from dli.domain.model.errors import SpecInvalidError


def test_duplicate_keys_are_refused_naming_the_key_and_line():
    with pytest.raises(SpecInvalidError) as exc:
        load_yaml(
            "name: a.b\nquery_statement: x\nschedule:\n  cron: '0 9 * * *'\n  cron: '0 6 * * *'\n", where="f.yaml"
        )
    assert exc.value.message == "f.yaml: line 5: duplicate key 'cron' (first at line 4)"
    assert exc.value.hints


def test_merge_keys_may_override_without_being_duplicates():
    data = load_yaml("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  x: 3\n", where="f")
    assert data["d"] == {"x": 3, "y": 2}


def billion_laughs(levels=9):
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    previous = "a"
    for level in range(1, levels):
        name = f"l{level}"
        text += f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]\n"
        previous = name
    return "name: a.b\nquery_statement: x\nschedule: {cron: '0 9 * * *'}\n" + text


def test_an_alias_bomb_is_refused_fast():
    started = time.perf_counter()
    with pytest.raises(SpecInvalidError) as exc:
        document_from_bytes(billion_laughs().encode(), where="manual/a.b.yaml")
    assert time.perf_counter() - started < 1
    assert f"expands to more than {MAX_ALIAS_EXPANSION} values" in exc.value.message


def test_a_few_aliases_are_fine():
    assert load_yaml(billion_laughs(levels=3), where="f")["l2"][8][8] == ["lol"] * 9


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("a: &a [*a]\n", "refers to a node that contains it"),
        ("x: " + "[" * 80 + "]" * 80 + "\n", "nested more than 64 levels"),
        ("x: " + "a" * (3 * 1024 * 1024) + "\n", "more than the 2 MiB"),
    ],
)
def test_documents_that_are_too_large_or_deep_are_refused(text, needle):
    with pytest.raises(SpecInvalidError) as exc:
        load_yaml(text, where="f.yaml")
    assert needle in exc.value.message


def test_invalid_yaml_carries_a_hint():
    with pytest.raises(SpecInvalidError) as exc:
        load_yaml("name: a.b\nowner: [x\n", where="f.yaml")
    assert exc.value.message.startswith("f.yaml: invalid YAML (line")
    assert "quot" in exc.value.hints[0]


def test_a_document_that_is_not_utf8_is_dli_203():
    with pytest.raises(SpecInvalidError) as exc:
        load_yaml("name: café\n".encode("latin-1"), where="f.yaml")
    assert "not UTF-8" in exc.value.message
