"""Per-file digests persisted across restarts, keyed by (size, mtime_ns, inode).

A restart stats every file but rereads only those whose signature changed (or that were
modified too recently to trust their signature).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from kudev.sources.tree import FileEntry, is_executable

CACHE_VERSION = 1
# A file modified this close to when it was hashed may change again within the same mtime
# tick without its signature changing (git's "racily clean" problem): never trust those.
_RACY_NS = 2_000_000_000


class DigestCache:
    """relpath → FileEntry, persisted as JSON so a restart does not reread unchanged files."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, FileEntry] = {}
        self.dirty = False
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        if data.get("version") != CACHE_VERSION:
            return
        for rel, (kind, exe, digest, size, mtime, ino) in data.get("files", {}).items():
            self.entries[rel] = FileEntry(kind, bool(exe), bytes.fromhex(digest), size, mtime, ino)

    def lookup(self, rel: str, st: os.stat_result, now_ns: int) -> FileEntry | None:
        entry = self.entries.get(rel)
        if entry is None or entry.signature() != (st.st_size, st.st_mtime_ns, st.st_ino):
            return None
        if now_ns - st.st_mtime_ns < _RACY_NS:
            return None
        if entry.executable != is_executable(st):
            return None
        return entry

    def store(self, rel: str, entry: FileEntry) -> None:
        if self.entries.get(rel) != entry:
            self.entries[rel] = entry
            self.dirty = True

    def forget(self, rel: str) -> None:
        if self.entries.pop(rel, None) is not None:
            self.dirty = True

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        files = {
            rel: [e.kind, int(e.executable), e.digest.hex(), e.size, e.mtime_ns, e.inode]
            for rel, e in self.entries.items()
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": CACHE_VERSION, "files": files}))
        os.replace(tmp, self.path)
        self.dirty = False


def default_cache_dir() -> Path:
    env = os.environ.get("KUDEV_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "kudev"
