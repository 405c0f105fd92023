"""kudev's own output files: stdout or stderr redirected into a file, perhaps inside a context.

`kudev --headless --once > out.log` in a project without a .dockerignore puts the log in the
build context. kudev writes it while it hashes and tars, so the file never holds still: every
tar would find it changed. Docker would send it; kudev leaves exactly these paths out of the
hash, the tar and the watch, and says so.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

STANDARD_STREAMS = (1, 2)


def own_output_files(fds: Iterable[int] = STANDARD_STREAMS) -> tuple[Path, ...]:
    """The regular files behind `fds` (stdout, stderr), resolved; terminals and pipes are not."""
    found: list[Path] = []
    for fd in fds:
        path = _regular_file_behind(fd)
        if path is not None and path not in found:
            found.append(path)
    return tuple(found)


def _regular_file_behind(fd: int) -> Path | None:
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # a closed fd, or no /proc (not Linux)
        return None
    path = Path(target)
    try:
        named = os.stat(path)
    except OSError:  # "(deleted)", or a path in another mount namespace
        return None
    if (named.st_dev, named.st_ino) != (st.st_dev, st.st_ino):
        return None
    return path.resolve()


def inside(paths: Sequence[Path], roots: Iterable[Path]) -> list[Path]:
    """Those of `paths` that lie inside one of `roots` (where leaving them out matters)."""
    resolved = [r.resolve() for r in roots]
    return [p for p in paths if any(p == r or r in p.parents for r in resolved)]
