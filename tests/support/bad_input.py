"""Hostile inputs shared by the tests of what dli refuses."""

from __future__ import annotations


def billion_laughs(name: str, levels: int = 9) -> str:
    """A dataset spec whose YAML aliases expand to 9**levels values (a few hundred bytes of text)."""
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    previous = "a"
    for level in range(1, levels):
        text += f"l{level}: &l{level} [" + ",".join([f"*{previous}"] * 9) + "]\n"
        previous = f"l{level}"
    return f"name: {name}\nowner: a@example.com\nquery_statement: SELECT 1\n" + text
