"""The two pieces of Go under moby/patternmatcher that Python does not share.

- `filepath_match_error`: moby's New() checks each pattern with Go's `filepath.Match(p, ".")`
  and refuses the build on ErrBadPattern (`[a-b-c]`, `[x-]`, a trailing `\\`). Ported from
  Go's path/filepath/match.go, for Linux (where `\\` escapes).
- `re2_to_python`: matching then goes through a Go regexp (RE2) that moby builds from the
  pattern. RE2 and Python's `re` read character classes differently: `[[:alpha:]]` is a
  POSIX class to RE2 but a nested set (with a FutureWarning) to Python; `\\d` is ASCII to
  RE2; `.` and `$` treat a newline differently. Each class is parsed as RE2 would and
  written out as explicit code-point ranges, so Python matches exactly what Docker matches.
"""

from __future__ import annotations

SEPARATOR = "/"
MAX_RUNE = 0x10FFFF

_POSIX_CLASSES: dict[str, list[tuple[int, int]]] = {
    "alnum": [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
    "alpha": [(0x41, 0x5A), (0x61, 0x7A)],
    "ascii": [(0x00, 0x7F)],
    "blank": [(0x09, 0x09), (0x20, 0x20)],
    "cntrl": [(0x00, 0x1F), (0x7F, 0x7F)],
    "digit": [(0x30, 0x39)],
    "graph": [(0x21, 0x7E)],
    "lower": [(0x61, 0x7A)],
    "print": [(0x20, 0x7E)],
    "punct": [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
    "space": [(0x09, 0x0D), (0x20, 0x20)],
    "upper": [(0x41, 0x5A)],
    "word": [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)],
    "xdigit": [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
}
# RE2's Perl classes are ASCII-only, unlike Python's Unicode \d \s \w.
_PERL_CLASSES = {"d": "digit", "s": "space", "w": "word"}
_PERL_SPACE = [(0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20)]  # \s: no \v, unlike [[:space:]]
_SIMPLE_ESCAPES = {"a": 7, "f": 12, "t": 9, "n": 10, "r": 13, "v": 11}


class PatternSyntaxError(ValueError):
    """A pattern Go (filepath.Match or regexp) rejects; Docker then refuses the build."""


# -- filepath.Match's syntax check --------------------------------------------------------


def filepath_match_error(pattern: str) -> str | None:
    """Why Go's filepath.Match(pattern, ".") returns ErrBadPattern, or None when it does not.

    Like Go, only what the match reaches is checked: a chunk after a `*` is not examined
    once an earlier chunk fails to match ".", and Docker accepts such a pattern.
    """
    name = "."
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and chunk == "":
            return None
        rest, ok, err = _match_chunk(chunk, name)
        if ok and (rest == "" or pattern):
            name = rest
            continue
        if err:
            return err
        if not star:
            return None
        found, err = _match_after_star(chunk, name, last=not pattern)
        if err or found is None:
            return err
        name = found
    return None


def _match_after_star(chunk: str, name: str, last: bool) -> tuple[str | None, str | None]:
    """Go's retry of a chunk after a `*`, skipping 1, 2, … bytes (never a separator)."""
    for i in range(len(name)):
        if name[i] == SEPARATOR:
            break
        rest, ok, err = _match_chunk(chunk, name[i + 1 :])
        if ok:
            if last and rest:
                continue
            return rest, None
        if err:
            return None, err
    return None, None


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    star = False
    while pattern.startswith("*"):
        pattern, star = pattern[1:], True
    in_range, i = False, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            i += 1
        elif ch == "[":
            in_range = True
        elif ch == "]":
            in_range = False
        elif ch == "*" and not in_range:
            return star, pattern[:i], pattern[i:]
        i += 1
    return star, pattern, ""


def _match_chunk(chunk: str, s: str) -> tuple[str, bool, str | None]:
    failed = False
    while chunk:
        failed = failed or not s
        head = chunk[0]
        if head == "[":
            r = -1
            if not failed:
                r, s = ord(s[0]), s[1:]
            chunk = chunk[1:]
            negated = chunk.startswith("^")
            if negated:
                chunk = chunk[1:]
            matched, ranges = False, 0
            while True:
                if chunk.startswith("]") and ranges > 0:
                    chunk = chunk[1:]
                    break
                lo, chunk, err = _get_esc(chunk)
                if err:
                    return "", False, err
                hi = lo
                if chunk[0] == "-":
                    hi, chunk, err = _get_esc(chunk[1:])
                    if err:
                        return "", False, err
                matched = matched or lo <= r <= hi
                ranges += 1
            failed = failed or matched == negated
            continue
        if head == "?":
            if not failed:
                failed, s = s[0] == SEPARATOR, s[1:]
            chunk = chunk[1:]
            continue
        if head == "\\":
            chunk = chunk[1:]
            if not chunk:
                return "", False, "a trailing \\ escapes nothing"
        if not failed:
            failed, s = chunk[0] != s[0], s[1:]
        chunk = chunk[1:]
    if failed:
        return "", False, None
    return s, True, None


def _get_esc(chunk: str) -> tuple[int, str, str | None]:
    if not chunk or chunk[0] in "-]":
        return 0, chunk, "a range in [...] lacks its start, or starts with - or ]"
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            return 0, chunk, "a trailing \\ escapes nothing"
    rune, rest = ord(chunk[0]), chunk[1:]
    if not rest:
        return rune, rest, "[ without its closing ]"
    return rune, rest, None


# -- RE2 regexp → Python re ---------------------------------------------------------------


def re2_to_python(source: str) -> str:
    """The Python `re` source matching what Go's regexp matches for `source` (moby's form)."""
    out: list[str] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "[":
            ranges, i = _parse_class(source, i + 1)
            out.append(_emit_class(ranges))
            continue
        if ch == "\\":
            if i + 1 >= n:
                raise PatternSyntaxError("trailing backslash at end of expression")
            out.append(_outside_escape(source[i + 1]))
            i += 2
            continue
        if ch == ".":
            out.append("[^\\n]")  # RE2 without (?s): any character but a newline
        elif ch == "$" and i == n - 1:
            out.append("\\Z")  # RE2's $ is the very end; Python's also matches before a \n
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _outside_escape(ch: str) -> str:
    if ch.lower() in _PERL_CLASSES:
        ranges = _named(_PERL_CLASSES[ch.lower()], perl=True)
        return _emit_class(_complement(ranges) if ch.isupper() else ranges)
    if ch == "z":
        return "\\Z"
    if ch in "pPQEC":
        raise PatternSyntaxError(f"\\{ch} is not supported by kudev")
    return "\\" + ch


def _named(name: str, perl: bool = False) -> list[tuple[int, int]]:
    if perl and name == "space":
        return list(_PERL_SPACE)
    return list(_POSIX_CLASSES[name])


def _parse_class(source: str, i: int) -> tuple[list[tuple[int, int]], int]:
    """Parse an RE2 class body from just after `[`; returns its ranges and the index past `]`."""
    n = len(source)
    negated = i < n and source[i] == "^"
    if negated:
        i += 1
    ranges: list[tuple[int, int]] = []
    first = True
    while i >= n or source[i] != "]" or first:
        if i >= n:
            raise PatternSyntaxError("missing closing ]")
        first = False
        if source.startswith("[:", i):
            end = source.find(":]", i + 2)
            if end >= 0:
                ranges += _posix_class(source[i + 2 : end])
                i = end + 2
                continue
        if source[i] == "\\" and i + 1 < n and source[i + 1].lower() in _PERL_CLASSES:
            ch = source[i + 1]
            found = _named(_PERL_CLASSES[ch.lower()], perl=True)
            ranges += _complement(found) if ch.isupper() else found
            i += 2
            continue
        lo, i = _class_char(source, i)
        hi = lo
        if i + 1 < n and source[i] == "-" and source[i + 1] != "]":
            hi, i = _class_char(source, i + 1)
            if hi < lo:
                raise PatternSyntaxError(f"invalid character class range {chr(lo)}-{chr(hi)}")
        ranges.append((lo, hi))
    return (_complement(ranges) if negated else ranges), i + 1


def _posix_class(name: str) -> list[tuple[int, int]]:
    negated = name.startswith("^")
    found = _POSIX_CLASSES.get(name.removeprefix("^"))
    if found is None:
        raise PatternSyntaxError(f"invalid character class range [:{name}:]")
    return _complement(found) if negated else list(found)


def _class_char(source: str, i: int) -> tuple[int, int]:
    if source[i] != "\\":
        return ord(source[i]), i + 1
    if i + 1 >= len(source):
        raise PatternSyntaxError("trailing backslash at end of expression")
    ch = source[i + 1]
    if ch in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[ch], i + 2
    if ch.isalnum():
        raise PatternSyntaxError(f"invalid escape sequence \\{ch}")
    return ord(ch), i + 2


def _complement(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out, start = [], 0
    for lo, hi in sorted(ranges):
        if lo > start:
            out.append((start, lo - 1))
        start = max(start, hi + 1)
    if start <= MAX_RUNE:
        out.append((start, MAX_RUNE))
    return out


def _emit_class(ranges: list[tuple[int, int]]) -> str:
    if not ranges:
        return "(?!)"  # an empty class matches nothing
    parts = [
        f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in sorted(ranges)
    ]
    return "[" + "".join(parts) + "]"
