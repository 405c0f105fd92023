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


@pytest.mark.parametrize("pattern", ["[a-b-c]", "[x-]", "trailing\\", "[]", "[a", "!bad[x-]"])
def test_a_pattern_go_calls_malformed_is_an_error_as_docker_refuses_the_build(pattern):
    with pytest.raises(KudevError, match="bad .dockerignore pattern") as caught:
        PatternMatcher([pattern])
    assert "Docker refuses" in caught.value.remedy


def test_a_malformed_chunk_after_a_star_is_accepted_like_go_does():
    # filepath.Match(p, ".") stops at the first chunk that fails to match "."; Docker then
    # accepts the pattern, and its regexp reads `[x-]` as the class {x, -}.
    assert excluded(["a*[x-]"], "abx")
    assert excluded(["a*[x-]"], "ab-")
    assert not excluded(["a*[x-]"], "aby")


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        # moby matches with a Go regexp, and RE2 reads [[:alpha:]] as a POSIX class.
        ("[[:alpha:]]", "a", True),
        ("[[:alpha:]]", "Z", True),
        ("[[:alpha:]]", "1", False),
        ("[[:alpha:]]", "a]", False),
        ("[[:alpha:]]", "ab", False),
        ("[[:digit:]][[:digit:]].txt", "42.txt", True),
        ("[[:^digit:]]x", "ax", True),
        ("[[:^digit:]]x", "4x", False),
        ("[^[:alpha:]]*", "1abc", True),
        ("[^[:alpha:]]*", "abc", False),
        ("\\d", "5", True),  # RE2's \d: an ASCII digit, not the letter d
        ("\\d", "d", False),
        ("\\d", "٣", False),  # Python's \d would take an Arabic-Indic digit
        # moby rewrites * inside brackets too: ^[a[^/]*]$ is [a[^/]* then a literal ]
        ("[a*]", "a", False),
        ("[a*]", "a]", True),
        ("a.txt", "a.txt\n", False),
        ("*.txt", "a.txt\n", False),  # RE2's $ is the very end
    ],
)
def test_classes_mean_what_they_mean_to_docker(pattern, path, expected):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no FutureWarning from Python's nested-set syntax
        assert excluded([pattern], path) is expected


def test_an_unknown_posix_class_is_an_error_like_go_regexp():
    with pytest.raises(KudevError, match="bad .dockerignore pattern"):
        PatternMatcher(["[[:vowel:]]"])


def test_the_per_dockerfile_ignore_file_wins_over_the_context_one(tmp_path):
    from kudev.sources.context import BuildContext

    (tmp_path / "app.Dockerfile").write_text("FROM scratch\n")
    (tmp_path / ".dockerignore").write_text("*.md\n")
    (tmp_path / "a.md").write_text("a")
    (tmp_path / "b.txt").write_text("b")
    ctx = BuildContext(tmp_path, tmp_path / "app.Dockerfile")
    ctx.scan()
    assert "b.txt" in ctx.files() and "a.md" not in ctx.files()

    specific = tmp_path / "app.Dockerfile.dockerignore"
    specific.write_text("*.txt\n")
    assert ctx.update([specific])
    assert "a.md" in ctx.files() and "b.txt" not in ctx.files()
    other = BuildContext(tmp_path, tmp_path / "other.Dockerfile")  # not its Dockerfile
    other.scan()
    assert "b.txt" in other.files()

    specific.unlink()
    assert ctx.update([specific])
    assert "a.md" not in ctx.files()


def test_the_watch_reloads_on_the_per_dockerfile_ignore_file(tmp_path):
    from kudev.sources.watch import ContextFilter, WatchFilter

    (tmp_path / "app.Dockerfile").write_text("FROM scratch\n")
    context = ContextFilter(tmp_path, dockerfile=tmp_path / "app.Dockerfile")
    relevant = WatchFilter([context])
    assert relevant(str(tmp_path / "b.txt"))
    specific = tmp_path / "app.Dockerfile.dockerignore"
    specific.write_text("*.txt\n")
    assert relevant(str(specific))
    assert not relevant(str(tmp_path / "b.txt"))
