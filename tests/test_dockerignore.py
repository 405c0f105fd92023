"""Docker's .dockerignore semantics (moby/patternmatcher), checked case by case."""

from __future__ import annotations

import pytest

from kudev.errors import KudevError
from kudev.sources.dockerignore import MatchInfo, PatternMatcher, clean, read_patterns


def excluded(patterns: list[str], path: str) -> bool:
    """Walk from the root like the docker CLI, handing each folder's MatchInfo down."""
    matcher = PatternMatcher(read_patterns("\n".join(patterns)))
    info = MatchInfo()
    parts = path.split("/")
    for i in range(len(parts) - 1):
        _, info = matcher.matches("/".join(parts[: i + 1]), info)
    return matcher.matches(path, info)[0]


@pytest.mark.parametrize(
    ("patterns", "path", "expected"),
    [
        (["*.log"], "a.log", True),
        (["*.log"], "sub/a.log", False),  # anchored at the root, unlike .gitignore
        (["**/*.log"], "sub/deep/a.log", True),
        (["**/*.log"], "a.log", True),
        (["docs"], "docs/guide/x.md", True),  # a matched folder excludes what is below
        (["docs", "!docs/keep.md"], "docs/keep.md", False),
        (["docs", "!docs/keep.md", "docs/keep.md"], "docs/keep.md", True),  # last one wins
        (["/build"], "build/x", True),
        (["./tmp/"], "tmp/y", True),
        (["a/../b"], "b", True),
        (["file?.txt"], "file1.txt", True),
        (["file?.txt"], "file10.txt", False),
        (["[ab].txt"], "a.txt", True),
        (["[ab].txt"], "c.txt", False),
        (["**.pyc"], "pkg/mod.pyc", True),  # moby's suffix fast path
        (["dist/**"], "dist", False),
        (["dist/**"], "dist/a/b", True),
        (["src/*/tmp"], "src/x/tmp/file", True),
        (["src/*/tmp"], "src/x/y/tmp/file", False),
        (["a+b(c).txt"], "a+b(c).txt", True),  # regex specials are literal
        (["\\*star"], "*star", True),
    ],
)
def test_pattern_semantics(patterns, path, expected):
    assert excluded(patterns, path) is expected


def test_reader_normalises_like_docker():
    text = "\ufeff# comment\n  spaced.txt  \n\n!  keep \n/leading\n./dot/../x\n#also comment\n"
    assert read_patterns(text) == ["spaced.txt", "!keep", "leading", "x"]


def test_indented_hash_is_a_pattern_not_a_comment():
    assert read_patterns("  # x\n") == ["# x"]


def test_lone_exclamation_mark_is_an_error():
    with pytest.raises(KudevError, match="illegal exclusion"):
        PatternMatcher(["!"])


def test_broken_character_class_is_an_error():
    with pytest.raises(KudevError, match="bad .dockerignore pattern"):
        PatternMatcher(["[a-"])


def test_excluded_folder_is_walked_only_for_literal_exceptions_below_it():
    matcher = PatternMatcher(["vendor", "!vendor/keep", "!**/also"])
    assert matcher.may_reinclude_below("vendor")
    assert not matcher.may_reinclude_below("node_modules")


def test_clean_matches_go():
    assert clean("a//b/./c/..") == "a/b"
    assert clean("//x") == "/x"
    assert clean("") == "."
