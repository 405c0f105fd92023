"""Where in the text PyYAML gave up, 1-based as editors count, for file:line:col messages.

Neutral ground: the config loader and the manifest reader both report YAML errors this way.
"""

from __future__ import annotations

import yaml


def error_position(error: yaml.YAMLError, text: str) -> tuple[int, int] | None:
    """(line, column) of a syntax error in `text`; None when PyYAML gives no position."""
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        return mark_position(mark) if mark else (1, 1)
    if isinstance(error, yaml.reader.ReaderError):
        # The reader counts characters, not lines: it fails before any mark exists.
        before = text[: error.position]
        return before.count("\n") + 1, len(before) - before.rfind("\n")
    return None


def mark_position(mark: yaml.Mark) -> tuple[int, int]:
    """(line, column) of a PyYAML mark, which counts from 0."""
    return mark.line + 1, mark.column + 1


def unreadable_character(error: yaml.reader.ReaderError) -> str:
    """What the reader refused, e.g. "special characters are not allowed (U+0007)"."""
    char = error.character
    code = ord(char) if isinstance(char, str) else char
    return f"{error.reason} (U+{code:04X})"
