"""`sync: infer`: sync rules from the final stage's COPY and ADD lines, as Skaffold's infer mode.

Only a line whose sources are plain context paths maps to a rule; every other line is named,
with why, so a save there is understood to be a full build rather than a surprise.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from kudev.config.model import SyncRule

_INSTRUCTION = re.compile(r"^\s*([A-Za-z]+)\s+(.*)$", re.DOTALL)
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Inferred:
    rules: tuple[SyncRule, ...]
    notes: tuple[str, ...]  # "Dockerfile:4: COPY --from=build … not synced: …"


def infer_sync(dockerfile: Path, context: Path, target: str = "") -> Inferred:
    """The rules of the final stage (or of `target`); an unreadable file gives a note."""
    try:
        text = dockerfile.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return Inferred((), (f"{dockerfile}: cannot read it for `sync: infer` ({err})",))
    rules: list[SyncRule] = []
    notes: list[str] = []
    workdir = "/"
    for line_no, instruction, args in _stage_instructions(text, target):
        if instruction == "WORKDIR":
            workdir = posixpath.join(workdir, args.strip())
        elif instruction in ("COPY", "ADD"):
            mapped = _rules_of(instruction, args, workdir, context)
            if isinstance(mapped, str):
                where = f"{dockerfile.name}:{line_no}: {instruction} {args.strip()}"
                notes.append(f"{where}: not synced: {mapped}")
            else:
                rules.extend(mapped)
    return Inferred(tuple(rules), tuple(notes))


def _stage_instructions(text: str, target: str) -> list[tuple[int, str, str]]:
    """The instructions of the stage the build ends with: the last, or the one named `target`."""
    stage: list[tuple[int, str, str]] = []
    for found in _instructions(text):
        if found[1] == "FROM":
            if target and stage and _stage_name(stage[0][2]) == target:
                return stage
            stage = []
        stage.append(found)
    return stage


def _stage_name(args: str) -> str:
    words = args.split()
    return words[2] if len(words) >= 3 and words[1].upper() == "AS" else ""


def _instructions(text: str) -> list[tuple[int, str, str]]:
    """(line number, INSTRUCTION, arguments) with continuation lines joined."""
    found: list[tuple[int, str, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        if not pending:
            start = number
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        match = _INSTRUCTION.match(pending + raw)
        pending = ""
        if match:
            found.append((start, match.group(1).upper(), match.group(2)))
    return found


def _rules_of(instruction: str, args: str, workdir: str, context: Path) -> list[SyncRule] | str:
    words = _words(args)
    if isinstance(words, str):
        return words
    flags = [w for w in words if w.startswith("--")]
    paths = [w for w in words if not w.startswith("--")]
    if any(f.startswith("--from") for f in flags):
        return "it copies from another stage or image, not from the build context"
    if len(paths) < 2:
        return "it names no source and destination"
    *sources, dest = paths
    why = _unmappable(instruction, sources, dest)
    if why:
        return why
    dest_abs = posixpath.join(workdir, dest)
    into_folder = dest.endswith("/") or len(sources) > 1
    return [_rule(src, dest_abs, into_folder, context) for src in sources]


def _words(args: str) -> list[str] | str:
    text = args.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return "its JSON form is not valid JSON"
        return [str(v) for v in value]
    try:
        return shlex.split(text)
    except ValueError as err:
        return f"its arguments cannot be read ({err})"


def _unmappable(instruction: str, sources: list[str], dest: str) -> str:
    for src in sources:
        if "$" in src or "$" in dest:
            return "it uses a variable, whose value kudev does not know when syncing"
        if instruction == "ADD" and re.match(r"^[a-z]+://", src):
            return "ADD fetches a URL"
        if instruction == "ADD" and re.search(r"\.(tar|tgz|tar\.\w+|txz|tbz2?)$", src):
            return "ADD unpacks an archive, which a file sync cannot reproduce"
        if _GLOB.search(src):
            return "its source is a wildcard; list the files or folders instead"
        if posixpath.normpath(src).startswith(".."):
            return "its source lies outside the build context"
    return ""


def _rule(src: str, dest: str, into_folder: bool, context: Path) -> SyncRule:
    clean = posixpath.normpath(src.lstrip("/"))
    # COPY of a folder copies its content into dest; of a file into a folder, the file by name.
    is_folder = clean == "." or (context / clean).is_dir()
    if into_folder and not is_folder:
        dest = posixpath.join(dest, posixpath.basename(clean))
    return SyncRule(src=clean, dest=posixpath.normpath(dest))
