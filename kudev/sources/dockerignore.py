"""Docker's .dockerignore rules, as the Docker CLI and BuildKit apply them.

A port of moby/patternmatcher (MatchesUsingParentResults) and of the ignore-file reader: patterns
are anchored at the context root (not gitignore's match-anywhere), `**` spans folders, later
`!` exceptions re-include, and a pattern is cleaned like Go's filepath.Clean. Matching is on
slash-separated paths relative to the context root.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

from kudev.errors import KudevError
from kudev.sources.go_patterns import PatternSyntaxError, filepath_match_error, re2_to_python

_BOM = "\ufeff"
_REGEX_SPECIALS = set(".+()|{}$")


def clean(path: str) -> str:
    """Go's path.Clean (the dockerignore reader and matcher both apply it)."""
    if path == "":
        return "."
    cleaned = posixpath.normpath(path)
    # normpath keeps a leading "//"; Go collapses it.
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def read_patterns(text: str) -> list[str]:
    """Patterns of a .dockerignore file, normalised as moby's ignorefile.ReadAll does."""
    patterns: list[str] = []
    for number, raw in enumerate(text.splitlines()):
        line = raw[len(_BOM) :] if number == 0 and raw.startswith(_BOM) else raw
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        invert = line.startswith("!")
        if invert:
            line = line[1:].strip()
        if line:
            line = clean(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        patterns.append("!" + line if invert else line)
    return patterns


def ignore_files(root: Path, dockerfile: Path) -> tuple[Path, Path]:
    """The ignore files BuildKit may read: `<Dockerfile>.dockerignore` beside the Dockerfile
    (e.g. app.Dockerfile.dockerignore), which wins, then the context root's .dockerignore."""
    return dockerfile.with_name(dockerfile.name + ".dockerignore"), root / ".dockerignore"


def read_context_ignore(root: Path, dockerfile: Path) -> list[str]:
    """The patterns BuildKit applies to this context: the first ignore file that exists."""
    for path in ignore_files(root, dockerfile):
        if path.is_file():
            return read_ignore_file(path)
    return []


def read_ignore_file(path: Path) -> list[str]:
    try:
        return read_patterns(path.read_text(encoding="utf-8", errors="surrogateescape"))
    except FileNotFoundError:
        return []


def bad_pattern(text: str, why: str) -> KudevError:
    return KudevError(
        f"bad .dockerignore pattern {text!r}: {why}",
        "fix or remove the pattern; Docker refuses to build with it too",
    )


@dataclass
class Pattern:
    text: str  # cleaned, without the leading "!"
    exclusion: bool
    _kind: str = ""
    _regex: re.Pattern[str] | None = None

    def __post_init__(self) -> None:
        self._kind, source = _compile(self.text)
        if self._kind == "regex":
            # moby's regex is RE2; re2_to_python makes Python read it the way Go does.
            try:
                self._regex = re.compile(re2_to_python(source))
            except (PatternSyntaxError, re.error) as err:
                raise bad_pattern(self.text, str(err)) from err

    def match(self, path: str) -> bool:
        if self._kind == "exact":
            return path == self.text
        if self._kind == "prefix":
            return path.startswith(self.text[:-2])
        if self._kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        assert self._regex is not None
        return self._regex.match(path) is not None


def _compile(pattern: str) -> tuple[str, str]:
    """Translate like moby's Pattern.compile: returns (match kind, regex source).

    The exact/prefix/suffix fast paths are kept because moby's results depend on them
    (e.g. `**/foo` as a plain suffix test also matches `barfoo`).
    """
    out = ["^"]
    kind = "exact"
    i, n = 0, len(pattern)
    index = 0
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                if i >= n:
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        out.append(".*")
                        kind = "regex"
                else:
                    out.append("(.*/)?")
                    kind = "regex"
                if index == 0:
                    kind = "suffix"
            else:
                out.append("[^/]*")
                kind = "regex"
        elif ch == "?":
            out.append("[^/]")
            kind = "regex"
        elif ch in _REGEX_SPECIALS:
            out.append("\\" + ch)
        elif ch == "\\":
            if i < n:
                out.append("\\" + pattern[i])
                i += 1
                kind = "regex"
            else:
                out.append("\\\\")
        elif ch in "[]":
            out.append(ch)
            kind = "regex"
        else:
            # Like moby, any other character goes into the regex unchanged.
            out.append(ch)
        index += 1
    out.append("$")
    return kind, "".join(out)


@dataclass
class MatchInfo:
    """Per-pattern results for a folder, handed to its children (moby's MatchInfo)."""

    parent_matched: list[bool] = field(default_factory=list)


class PatternMatcher:
    def __init__(self, patterns: list[str]) -> None:
        self.patterns: list[Pattern] = []
        for raw in patterns:
            text = raw.strip()
            if not text:
                continue
            text = clean(text)
            exclusion = text.startswith("!")
            if exclusion:
                if len(text) == 1:
                    raise KudevError(
                        'illegal exclusion pattern: "!"', "remove the lone ! from .dockerignore"
                    )
                text = text[1:]
            # moby's New() refuses what Go's filepath.Match calls ErrBadPattern.
            if (why := filepath_match_error(text)) is not None:
                raise bad_pattern(text, why)
            self.patterns.append(Pattern(text, exclusion))
        self.has_exclusions = any(p.exclusion for p in self.patterns)

    def matches(self, path: str, parent: MatchInfo) -> tuple[bool, MatchInfo]:
        """Whether `path` is excluded, given its parent folder's MatchInfo."""
        parent_matched = parent.parent_matched
        matched = False
        info = MatchInfo([False] * len(self.patterns))
        for i, pattern in enumerate(self.patterns):
            hit = bool(parent_matched) and parent_matched[i]
            if not hit:
                if pattern.exclusion != matched:
                    continue
                hit = pattern.match(path)
                if not hit and not parent_matched:
                    hit = _any_parent_matches(pattern, path)
            info.parent_matched[i] = hit
            if hit:
                matched = not pattern.exclusion
        return matched, info

    def matches_or_parent_matches(self, path: str) -> bool:
        """moby's MatchesOrParentMatches: used for the Dockerfile and .dockerignore checks."""
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path) or _any_parent_matches(pattern, path)
            if hit:
                matched = not pattern.exclusion
        return matched

    def may_reinclude_below(self, folder: str) -> bool:
        """Whether an excluded folder must still be walked (moby's TarWithOptions rule).

        Docker skips an excluded folder unless some exception pattern starts with
        "<folder>/" literally; `!**/keep` does not rescue files below an excluded folder.
        """
        prefix = folder + "/"
        return any(p.exclusion and (p.text + "/").startswith(prefix) for p in self.patterns)


def _any_parent_matches(pattern: Pattern, path: str) -> bool:
    parent = posixpath.dirname(path)
    if parent in ("", "."):
        return False
    parts = parent.split("/")
    return any(pattern.match("/".join(parts[: i + 1])) for i in range(len(parts)))


class FolderDecisions:
    """What walking a context like the docker CLI decides per folder: whether Docker skips it
    (excluded, and no exception names anything below it), and the MatchInfo its entries get.

    Cached per folder, so a single changed path is judged without rewalking the tree.
    """

    def __init__(self, matcher: PatternMatcher) -> None:
        self.matcher = matcher
        self._folders: dict[str, tuple[bool, MatchInfo]] = {}

    def record(self, folder: str, excluded: bool, info: MatchInfo) -> bool:
        """Remember a folder's result from matcher.matches(); returns whether it is skipped."""
        skipped = excluded and not self.matcher.may_reinclude_below(folder)
        self._folders[folder] = (skipped, info)
        return skipped

    def parent_info(self, rel: str) -> MatchInfo | None:
        """MatchInfo of rel's parent folder, or None if Docker never walks into it."""
        parts = rel.split("/")[:-1]
        info = MatchInfo()
        for i in range(len(parts)):
            folder = "/".join(parts[: i + 1])
            state = self._folders.get(folder)
            if state is None:
                excluded, child = self.matcher.matches(folder, info)
                self.record(folder, excluded, child)
                state = self._folders[folder]
            if state[0]:
                return None
            info = state[1]
        return info

    def forget_below(self, rel: str) -> None:
        prefix = rel + "/"
        for key in [k for k in self._folders if k == rel or k.startswith(prefix)]:
            del self._folders[key]
