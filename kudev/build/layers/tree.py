"""What the image holds so far, as far as COPY needs to know: which paths are folders (a file
copied onto a folder goes into it), and /etc/passwd and /etc/group (for `--chown=name`)."""

from __future__ import annotations

import io
import posixpath
import tarfile

from kudev.build.layers.dockerfile import LayersRefused

_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"
_ACCOUNTS = ("etc/passwd", "etc/group")


class ImageTree:
    def __init__(self) -> None:
        self.kinds: dict[str, str] = {}  # path (no leading "/") → "d", "f", "l"
        self.links: dict[str, str] = {}
        self.accounts: dict[str, bytes] = {}

    def apply_tar(self, stream: io.BufferedIOBase | io.BytesIO, gzipped: bool) -> None:
        """Lay one layer over the tree, honouring whiteouts."""
        with tarfile.open(fileobj=stream, mode="r:gz" if gzipped else "r:") as tar:
            for info in tar:
                self._apply(tar, info)

    def _apply(self, tar: tarfile.TarFile, info: tarfile.TarInfo) -> None:
        path = posixpath.normpath(info.name).lstrip("./").lstrip("/")
        folder, name = posixpath.split(path)
        if name == _OPAQUE:
            self._drop_below(folder)
            return
        if name.startswith(_WHITEOUT):
            gone = posixpath.join(folder, name[len(_WHITEOUT) :])
            self.kinds.pop(gone, None)
            self._drop_below(gone)
            return
        self.kinds[path] = "d" if info.isdir() else "l" if info.issym() else "f"
        if info.issym():
            self.links[path] = info.linkname
        if path in _ACCOUNTS and info.isreg():
            extracted = tar.extractfile(info)
            self.accounts[path] = extracted.read() if extracted else b""

    def _drop_below(self, folder: str) -> None:
        prefix = folder + "/" if folder else ""
        for path in [p for p in self.kinds if p.startswith(prefix)]:
            del self.kinds[path]

    def add(self, path: str, kind: str, content: bytes | None = None) -> None:
        self.kinds[path] = kind
        if path in _ACCOUNTS and content is not None:
            self.accounts[path] = content

    def is_dir(self, path: str) -> bool:
        path = path.strip("/")
        for _ in range(16):  # follow symlinks, as far as Docker would
            kind = self.kinds.get(path)
            if kind != "l":
                return kind == "d" or path == ""
            target = self.links[path]
            base = "" if target.startswith("/") else posixpath.dirname(path)
            path = posixpath.normpath(posixpath.join(base, target)).strip("/")
        return False

    def owner(self, chown: str) -> tuple[int, int]:
        """`--chown` as numbers: "1000", "1000:1000", "app", "app:staff"; a user without a
        group gets the same number as its gid, as Docker does."""
        user, _, group = chown.partition(":")
        uid = self._number(user, "etc/passwd", chown)
        gid = self._number(group, "etc/group", chown) if group else uid
        return uid, gid

    def _number(self, name: str, file: str, chown: str) -> int:
        if name.isdigit():
            return int(name)
        for line in self.accounts.get(file, b"").decode(errors="replace").splitlines():
            fields = line.split(":")
            if len(fields) > 2 and fields[0] == name and fields[2].isdigit():
                return int(fields[2])
        raise LayersRefused(
            f"--chown={chown}: no {name!r} in the image's /{file}",
            "use numeric ids, or a base image that has the user",
        )
