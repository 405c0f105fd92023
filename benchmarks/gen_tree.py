"""Generate a deterministic source-like tree: N files in folders of 100, sizes 1 KiB–32 KiB."""

from __future__ import annotations

import os
import random
from pathlib import Path


def generate(root: Path, files: int, total_bytes: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    mean = total_bytes // files
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text("FROM scratch\nCOPY . /src\n")
    block = os.urandom(64 * 1024)
    for i in range(files):
        folder = root / f"pkg{i // 1000:03d}" / f"mod{(i // 100) % 10}"
        if i % 100 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        size = max(64, int(rng.expovariate(1 / mean))) if mean else 64
        size = min(size, len(block))
        start = rng.randrange(0, len(block) - size + 1)
        (folder / f"file{i % 100:02d}.go").write_bytes(block[start : start + size])
