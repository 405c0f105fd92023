"""The live-update keys of one image (`sync`, `run`, `restart`, `fallback`) → LiveUpdateSpec.

A `dest` that is not absolute and a `src` that leads outside the build context are reported
at the line and column where they are written.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from kudev.config.checks import Problem
from kudev.config.infer import infer_sync
from kudev.config.marked_yaml import MarkedList, MarkedMap
from kudev.config.model import LiveUpdateSpec, RunStep, SyncRule


def live_update(
    mapping: MarkedMap, key: str, context: Path, dockerfile: Path, target: str,
    problems: list[Problem],
) -> LiveUpdateSpec:  # fmt: skip
    """`key` is where `mapping` sits ("spec" or "spec.images[0]"), for the messages."""
    sync = mapping.get("sync")
    notes: tuple[str, ...] = ()
    if sync == "infer":
        inferred = infer_sync(dockerfile, context, target)
        rules, notes = inferred.rules, inferred.notes
    else:
        rules = _rules(sync if isinstance(sync, MarkedList) else None, key, problems)
    return LiveUpdateSpec(
        sync=rules,
        inferred=sync == "infer",
        infer_notes=notes,
        run=_run_steps(mapping.get("run")),
        restart=mapping.get("restart") or "never",
        fallback=tuple(mapping.get("fallback") or ()),
    )


def _rules(listed: MarkedList | None, key: str, problems: list[Problem]) -> tuple[SyncRule, ...]:
    rules: list[SyncRule] = []
    for index, entry in enumerate(listed or ()):
        if entry is None or "src" not in entry or "dest" not in entry:
            continue  # the checker reported it
        where = f"{key}.sync[{index}]"
        src = posixpath.normpath(entry["src"])
        dest: str = entry["dest"]
        ok = True
        if src.startswith("/") or src == ".." or src.startswith("../"):
            message = f"{entry['src']!r} lies outside the build context; give a path inside it"
            problems.append(Problem(entry.value_loc("src"), f"{where}.src", message))
            ok = False
        if not dest.startswith("/"):
            message = f"expected an absolute path in the container, got {dest!r}"
            problems.append(Problem(entry.value_loc("dest"), f"{where}.dest", message))
            ok = False
        if ok:
            ignore = tuple(entry.get("ignore") or ())
            rules.append(SyncRule(src=src, dest=posixpath.normpath(dest), ignore=ignore))
    return tuple(rules)


def _run_steps(listed: Any) -> tuple[RunStep, ...]:
    steps: list[RunStep] = []
    for entry in listed or ():
        if entry is None or "cmd" not in entry:
            continue
        cmd = entry["cmd"]
        argv = ("sh", "-c", cmd) if isinstance(cmd, str) else tuple(str(a) for a in cmd)
        steps.append(RunStep(argv=argv, trigger=tuple(entry.get("trigger") or ())))
    return tuple(steps)
