"""One COPY or ADD as a reproducible layer: the same files give the same bytes, anywhere.

Entries are sorted by path, owned by root (or `--chown`), stamped with one fixed mtime, and
carry the context's modes (or `--chmod`). Parent folders the layer does not copy are left out:
the runtime keeps them as lower layers have them, or makes them 0755 root, as Docker does.

The layer's digest (in the manifest) is the SHA-256 of the gzip stream; its diff_id (in the
config's rootfs) is the SHA-256 of the tar itself.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import io
import os
import posixpath
import stat
import tarfile
from dataclasses import dataclass

from kudev.build.builder import ContextChanged
from kudev.build.layers.dockerfile import CopyStep, LayersRefused
from kudev.build.layers.tree import ImageTree
from kudev.sources.context import BuildContext
from kudev.sources.tree import FileEntry

# 1970-01-01: a fixed time says nothing about when or where the image was made.
FIXED_MTIME = 0
GZIP_LEVEL = 6
_ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Entry:
    path: str  # in the image, no leading "/"
    kind: str  # "f", "d" or "l"
    mode: int  # permission bits
    uid: int
    gid: int
    source: str = ""  # absolute path of the context file, for "f"
    link: str = ""  # symlink target, for "l"
    size: int = 0
    mtime_s: int = 0  # the context file's, checked against the hashed one


@dataclass(frozen=True)
class Layer:
    tar: bytes
    gz: bytes

    @property
    def digest(self) -> str:
        """The manifest's layer digest: of the compressed bytes."""
        return sha256(self.gz)

    @property
    def diff_id(self) -> str:
        """The config's rootfs.diff_ids entry: of the uncompressed tar."""
        return sha256(self.tar)


def layer_from_entries(entries: list[Entry], read: dict[str, bytes]) -> Layer:
    """The layer for `entries` (any order), file contents from `read` (by source path)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(entries, key=lambda e: e.path):
            info = tarfile.TarInfo(entry.path)
            info.mode, info.uid, info.gid, info.mtime = (
                entry.mode,
                entry.uid,
                entry.gid,
                FIXED_MTIME,
            )
            info.uname = info.gname = ""
            if entry.kind == "d":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif entry.kind == "l":
                info.type, info.linkname = tarfile.SYMTYPE, entry.link
                tar.addfile(info)
            else:
                data = read[entry.source]
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    return Layer(tar=tar_bytes, gz=gzip.compress(tar_bytes, GZIP_LEVEL, mtime=0))


def copy_entries(step: CopyStep, context: BuildContext, tree: ImageTree) -> list[Entry]:
    """What one COPY/ADD puts in the image, from the context's hashed file set."""
    uid, gid = tree.owner(step.chown) if step.chown else (0, 0)
    known = _context_paths(context)
    entries: list[Entry] = []
    for source in step.sources:
        matches = _matches(source, known)
        if not matches:
            raise LayersRefused(
                f"{step.instruction.text.strip()}: {source!r} is not in the build context",
                "check the path, and that .dockerignore does not exclude it",
            )
        for rel in matches:
            entries += _entries_for(step, context, tree, rel, known, (uid, gid))
    return entries


def cache_key(step: CopyStep, entries: list[Entry], context: BuildContext) -> str:
    """Names the layer by what goes in it: paths, kinds, modes, owners and content digests."""
    h = hashlib.sha256(step.instruction.text.encode())
    for entry in sorted(entries, key=lambda e: e.path):
        rel = context.relative(entry.source) if entry.source else None
        found = context.tree.get(rel) if rel else None
        digest = getattr(found, "digest", b"")
        h.update(f"{entry.path}\0{entry.kind}{entry.mode:o}:{entry.uid}:{entry.gid}".encode())
        h.update(entry.link.encode() + b"\0" + digest + b"\0")
    return h.hexdigest()


def read_sources(entries: list[Entry], context: BuildContext, is_add: bool) -> dict[str, bytes]:
    """The files' contents, refused when one changed since it was hashed (as for Docker)."""
    read: dict[str, bytes] = {}
    for entry in entries:
        if entry.kind != "f":
            continue
        with open(entry.source, "rb") as f:
            data = f.read()
        if len(data) != entry.size:
            rel = context.relative(entry.source) or entry.source
            raise ContextChanged(f"{rel} changed while the build started", rel)
        if is_add and data.startswith(_ARCHIVE_MAGIC) or is_add and _is_tar(data):
            raise LayersRefused(
                f"ADD {entry.source}: a local archive, which ADD would unpack",
                "use COPY to copy it as it is, or a builder that unpacks it (docker, podman)",
            )
        read[entry.source] = data
    return read


def _is_tar(data: bytes) -> bool:
    return data[257:262] == b"ustar"


def _context_paths(context: BuildContext) -> dict[str, str]:
    """Every context path → "f", "l" or "d"; "" is the context itself."""
    paths = {"": "d"}
    for rel, entry in context.tree.entries():
        paths[rel] = "d" if entry is None else entry.kind
    return paths


def _clean(source: str) -> str:
    cleaned = posixpath.normpath("/" + source).lstrip("/")
    return "" if cleaned == "." else cleaned


def _matches(source: str, known: dict[str, str]) -> list[str]:
    pattern = _clean(source)
    if not any(c in pattern for c in "*?["):
        return [pattern] if pattern in known else []
    depth = pattern.count("/")
    return sorted(
        p for p in known if p and p.count("/") == depth and fnmatch.fnmatchcase(p, pattern)
    )


def _entries_for(
    step: CopyStep,
    context: BuildContext,
    tree: ImageTree,
    rel: str,
    known: dict[str, str],
    owner: tuple[int, int],
) -> list[Entry]:
    dest = step.dest.lstrip("/")
    if known[rel] == "d":
        # A folder's contents go into the destination, which becomes a folder.
        base = dest.rstrip("/")
        found = [_entry(context, rel, base, step, owner)] if base else []
        prefix = f"{rel}/" if rel else ""
        for path in known:
            if path and path.startswith(prefix) and path != rel:
                target = posixpath.join(base, path[len(prefix) :])
                found.append(_entry(context, path, target, step, owner))
        return found
    into_folder = step.dest.endswith("/") or tree.is_dir(dest)
    target = posixpath.join(dest.rstrip("/"), posixpath.basename(rel)) if into_folder else dest
    if known[rel] == "l":
        return [_followed(context, rel, target, step, owner)]
    return [_entry(context, rel, target, step, owner)]


def _followed(
    context: BuildContext, rel: str, target: str, step: CopyStep, owner: tuple[int, int]
) -> Entry:
    """A symlink named as a source is followed, as Docker does (inside folders it is kept)."""
    real = os.path.realpath(os.path.join(context.root, rel))
    inside = os.path.relpath(real, context.root)
    if inside.startswith("..") or not os.path.isfile(real):
        raise LayersRefused(
            f"{step.instruction.text.strip()}: {rel} is a symlink to {real}, which is not a "
            "file in the build context",
            "copy the file itself, or the folder holding the link",
        )
    st = os.stat(real)
    mode = stat.S_IMODE(st.st_mode) if step.chmod is None else step.chmod
    return Entry(target, "f", mode, *owner, source=real, size=st.st_size)


def _entry(
    context: BuildContext, rel: str, target: str, step: CopyStep, owner: tuple[int, int]
) -> Entry:
    path = os.path.join(context.root, rel) if rel else str(context.root)
    try:
        st = os.lstat(path)
    except FileNotFoundError as err:
        raise ContextChanged(f"{rel} vanished while the build started", rel) from err
    mode = stat.S_IMODE(st.st_mode) if step.chmod is None else step.chmod
    uid, gid = owner
    hashed = context.tree.get(rel) if rel else None
    if isinstance(hashed, FileEntry) and hashed.signature()[:2] != (st.st_size, st.st_mtime_ns):
        raise ContextChanged(f"{rel} changed while the build started", rel)
    if stat.S_ISLNK(st.st_mode):
        return Entry(target, "l", 0o777, uid, gid, link=os.readlink(path))
    if stat.S_ISDIR(st.st_mode):
        return Entry(target, "d", mode, uid, gid)
    return Entry(target, "f", mode, uid, gid, source=path, size=st.st_size)
