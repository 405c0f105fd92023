"""Sync cycle or full build: decided from the changed paths and the rules — a pure function.

A cycle is a sync cycle when every changed path of the build context (after .dockerignore)
lies under a sync rule, none matches `fallback`, and the app's pods run the last full build's
image. Otherwise it is a full build, and `FullBuild.reason` says why in words a person reads
("serve.sh is not under a sync rule"). Patterns are .dockerignore rules, as everywhere in kudev.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kudev.config.model import LiveUpdateSpec, SyncRule
from kudev.deploy.live.sync_job import Sync, SyncedFile, triggered
from kudev.sources.dockerignore import PatternMatcher


@dataclass(frozen=True)
class ChangedPath:
    rel: str  # relative to the build context, with slashes
    exists: bool  # False: deleted (it is deleted in the container too)


@dataclass(frozen=True)
class FullBuild:
    reason: str


Decision = Sync | FullBuild

# Files that change the build itself, whatever the rules say.
BUILD_FILES = (".dockerignore",)


def decide(
    changed: Sequence[ChangedPath],
    live: LiveUpdateSpec,
    *,
    dockerfile_rel: str | None,
    pods_behind: str = "",
) -> Decision:
    """`pods_behind` is "" when the pods run the last full build's image, else why not."""
    if not live.sync:
        return FullBuild("no sync rules")
    fallback = PatternMatcher(list(live.fallback))
    files: list[SyncedFile] = []
    deletes: list[SyncedFile] = []
    for path in sorted(changed, key=lambda c: c.rel):
        if path.rel in BUILD_FILES or path.rel == dockerfile_rel:
            return FullBuild(f"{path.rel} changes the build itself")
        if live.fallback and fallback.matches_or_parent_matches(path.rel):
            return FullBuild(f"{path.rel} matches fallback")
        dest = destination(path.rel, live.sync)
        if dest is None:
            return FullBuild(f"{path.rel} is not under a sync rule")
        (files if path.exists else deletes).append(SyncedFile(path.rel, dest))
    if pods_behind and (files or deletes):
        return FullBuild(pods_behind)
    touched = [f.rel for f in (*files, *deletes)]
    return Sync(tuple(files), tuple(deletes), triggered(live.run, touched))


def destination(rel: str, rules: Iterable[SyncRule]) -> str | None:
    """Where the first rule covering `rel` puts it in the container; None when none does."""
    for rule in rules:
        below = _below(rel, rule.src)
        if below is None:
            continue
        if (
            below
            and rule.ignore
            and PatternMatcher(list(rule.ignore)).matches_or_parent_matches(below)
        ):
            continue
        return posixpath.join(rule.dest, below) if below else rule.dest
    return None


def _below(rel: str, src: str) -> str | None:
    """`rel` relative to `src` ("" when it is `src`), or None when outside it."""
    if src == ".":
        return rel
    if rel == src:
        return ""
    if rel.startswith(src + "/"):
        return rel[len(src) + 1 :]
    return None
