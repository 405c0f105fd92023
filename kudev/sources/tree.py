"""The context's file set as a Merkle tree: one digest per folder, recomputed lazily.

A changed file clears the digests of the folders above it only, so rehashing after one edit
walks one path of folders, not the whole tree.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class FileEntry:
    kind: str  # "f" regular file, "l" symlink
    executable: bool
    digest: bytes  # sha256 of the content, or of the link target
    size: int
    mtime_ns: int
    inode: int

    def signature(self) -> tuple[int, int, int]:
        return (self.size, self.mtime_ns, self.inode)


def is_executable(st: os.stat_result) -> bool:
    """What `FileEntry.executable` records: the owner's execute bit, as Docker keeps it."""
    return bool(st.st_mode & 0o100)


def length_prefixed(data: bytes) -> bytes:
    """`data` after its length, so no two different inputs run together into the same bytes."""
    return struct.pack(">Q", len(data)) + data


class _Folder:
    __slots__ = ("children", "digest", "included")

    def __init__(self) -> None:
        self.children: dict[str, _Folder | FileEntry] = {}
        self.digest: bytes | None = None
        # False for a folder .dockerignore excludes that only holds re-included files:
        # Docker creates it implicitly, and it vanishes with its last file.
        self.included = False


class ContextTree:
    """Files and folders of a context with Merkle digests per folder."""

    def __init__(self) -> None:
        self.root = _Folder()
        self.count = 0

    def _folder(self, parts: list[str], create: bool) -> _Folder | None:
        node = self.root
        for part in parts:
            child = node.children.get(part)
            if not isinstance(child, _Folder):
                if not create:
                    return None
                if isinstance(child, FileEntry):
                    self.count -= 1
                child = node.children[part] = _Folder()
            node = child
        return node

    def _dirty(self, parts: list[str]) -> None:
        node: _Folder | FileEntry | None = self.root
        self.root.digest = None
        for part in parts:
            if not isinstance(node, _Folder):
                return
            node = node.children.get(part)
            if isinstance(node, _Folder):
                node.digest = None

    def put(self, rel: str, entry: FileEntry) -> bool:
        """Record a file; returns whether anything changed."""
        *parents, name = rel.split("/")
        folder = self._folder(parents, create=True)
        assert folder is not None
        old = folder.children.get(name)
        if old == entry:
            return False
        if isinstance(old, _Folder):
            self.count -= _count_files(old)
        elif old is None:
            self.count += 1
        folder.children[name] = entry
        self._dirty(parents)
        return True

    def put_folder(self, rel: str) -> bool:
        parts = rel.split("/")
        existed = self._folder(parts, create=False) is not None
        folder = self._folder(parts, create=True)
        assert folder is not None
        folder.included = True
        self._dirty(parts)
        return not existed

    def remove(self, rel: str) -> bool:
        *parents, name = rel.split("/")
        folder = self._folder(parents, create=False)
        if folder is None or name not in folder.children:
            return False
        old = folder.children.pop(name)
        self.count -= _count_files(old) if isinstance(old, _Folder) else 1
        self._dirty(parents)
        self._drop_implicit_folders(parents)
        return True

    def _drop_implicit_folders(self, parts: list[str]) -> None:
        while parts:
            folder = self._folder(parts, create=False)
            if folder is None or folder.included or folder.children:
                return
            *parts, name = parts
            parent = self._folder(parts, create=False)
            assert parent is not None
            del parent.children[name]

    def get(self, rel: str) -> FileEntry | _Folder | None:
        *parents, name = rel.split("/")
        folder = self._folder(parents, create=False)
        return folder.children.get(name) if folder else None

    def digest(self) -> bytes:
        return _folder_digest(self.root)

    def entries(self) -> Iterator[tuple[str, FileEntry | None]]:
        """(path, entry) in sorted order; folders come with entry None."""
        yield from _walk_tree(self.root, "")


def _count_files(folder: _Folder) -> int:
    return sum(_count_files(c) if isinstance(c, _Folder) else 1 for c in folder.children.values())


def _folder_digest(folder: _Folder) -> bytes:
    if folder.digest is not None:
        return folder.digest
    h = hashlib.sha256(b"D")
    for name in sorted(folder.children):
        child = folder.children[name]
        h.update(length_prefixed(os.fsencode(name)))
        if isinstance(child, _Folder):
            h.update(b"d-" + _folder_digest(child))
        else:
            h.update(child.kind.encode() + (b"x" if child.executable else b"-") + child.digest)
    folder.digest = h.digest()
    return folder.digest


def _walk_tree(folder: _Folder, prefix: str) -> Iterator[tuple[str, FileEntry | None]]:
    for name in sorted(folder.children):
        child = folder.children[name]
        rel = f"{prefix}{name}"
        if isinstance(child, _Folder):
            yield rel, None
            yield from _walk_tree(child, rel + "/")
        else:
            yield rel, child
