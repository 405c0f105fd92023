"""What the app's containers hold of one image: its last full build, plus what was synced.

The engine keeps, per image with sync rules, the full image's references and the digest of
every context file as the image has it and as the containers have it now. The difference to
the context is what a sync must send. The image's part is persisted in kudev's cache, so a
session that starts on pods of that image sends them the initial sync instead of a rebuild.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kudev.deploy.live.sync_job import Sync
from kudev.engine.sync_plan import ChangedPath
from kudev.sources.context import BuildContext


@dataclass
class Shipped:
    local_ref: str = ""  # the full image, "name:kudev-…"
    deploy_ref: str = ""  # as the pods name it, e.g. "localhost:5000/name:kudev-…"
    base_files: dict[str, str] = field(default_factory=dict)  # the image's: path -> sha256 hex
    files: dict[str, str] = field(default_factory=dict)  # the containers' now: base + synced

    def __post_init__(self) -> None:
        if not self.files:
            self.files = dict(self.base_files)

    @property
    def known(self) -> bool:
        return bool(self.deploy_ref)

    def apply(self, sync: Sync, context: BuildContext) -> None:
        """The containers now hold `sync`'s files as the context has them."""
        for synced in sync.files:
            digest = file_digest(context, synced.rel)
            if digest is not None:
                self.files[synced.rel] = digest
        for deleted in sync.deletes:
            self.files.pop(deleted.rel, None)


def file_digest(context: BuildContext, rel: str) -> str | None:
    entry = context.tree.get(rel)
    digest = getattr(entry, "digest", None)
    return digest.hex() if isinstance(digest, bytes) else None


def snapshot(context: BuildContext) -> dict[str, str]:
    return {rel: entry.digest.hex() for rel, entry in context.tree.entries() if entry is not None}


def changes(
    context: BuildContext, shipped: Shipped, candidates: Iterable[str] | None = None
) -> list[ChangedPath]:
    """The context files whose content differs from what the containers hold.

    With `candidates` (the changed paths, relative) only those are compared, unless one is a
    folder, whose files a watcher may not list one by one; None compares everything."""
    if candidates is not None:
        found = _changes_of(context, shipped, set(candidates))
        if found is not None:
            return found
    now = snapshot(context)
    changed = [ChangedPath(rel, True) for rel, d in now.items() if shipped.files.get(rel) != d]
    return changed + [ChangedPath(rel, False) for rel in shipped.files if rel not in now]


def _changes_of(
    context: BuildContext, shipped: Shipped, candidates: set[str]
) -> list[ChangedPath] | None:
    found = []
    for rel in sorted(candidates):
        now = file_digest(context, rel)
        if now is None and context.tree.get(rel) is not None:
            return None  # a folder
        if now is None and any(k.startswith(rel + "/") for k in shipped.files):
            return None  # a folder that went away
        if now != shipped.files.get(rel):
            found.append(ChangedPath(rel, now is not None))
    return found


# -- persisted between sessions --------------------------------------------------------------


def shipped_path(cache_dir: Path, context_root: Path, image: str) -> Path:
    key = hashlib.sha256(os.fsencode(f"{context_root}\0{image}")).hexdigest()[:16]
    return cache_dir / "shipped" / f"{key}.json"


def load_shipped(path: Path) -> Shipped:
    # Only the image's files are kept: a container may have restarted since, losing what
    # was synced into it, so a new session sends everything the image lacks.
    try:
        data = json.loads(path.read_text())
        return Shipped(str(data["local_ref"]), str(data["deploy_ref"]), dict(data["files"]))
    except (OSError, ValueError, KeyError, TypeError):
        return Shipped()  # none yet, or unreadable: the first cycle builds, as without it


def save_shipped(path: Path, shipped: Shipped) -> None:
    data = {
        "local_ref": shipped.local_ref,
        "deploy_ref": shipped.deploy_ref,
        "files": shipped.base_files,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, separators=(",", ":")))
        temporary.replace(path)
    except OSError:
        pass  # a cache: without it the next session builds once more
