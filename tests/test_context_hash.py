"""The content hash: stable, sensitive to what Docker sees, blind to what it does not."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kudev.sources.context import BuildContext, content_tag


def tree(root: Path, files: dict[str, str], ignore: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text("FROM scratch\nCOPY . /\n")
    if ignore:
        (root / ".dockerignore").write_text(ignore)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def digest(root: Path, **kw) -> str:
    ctx = BuildContext(root, root / "Dockerfile", **kw)
    ctx.scan()
    return ctx.digest()


def test_same_content_in_another_folder_gives_the_same_tag(tmp_path):
    a = tree(tmp_path / "a", {"x.txt": "1", "d/y.txt": "2"})
    b = tree(tmp_path / "b", {"d/y.txt": "2", "x.txt": "1"})
    assert digest(a) == digest(b)


@pytest.mark.parametrize(
    "change",
    ["content", "rename", "exec_bit", "symlink_target", "dockerfile", "new_empty_folder"],
)
def test_each_thing_docker_sees_changes_the_hash(tmp_path, change):
    root = tree(tmp_path / "p", {"x.txt": "1"})
    (root / "link").symlink_to("x.txt")
    before = digest(root)
    if change == "content":
        (root / "x.txt").write_text("2")
    elif change == "rename":
        (root / "x.txt").rename(root / "z.txt")
    elif change == "exec_bit":
        os.chmod(root / "x.txt", 0o755)
    elif change == "symlink_target":
        (root / "link").unlink()
        (root / "link").symlink_to("Dockerfile")
    elif change == "dockerfile":
        (root / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
    elif change == "new_empty_folder":
        (root / "empty").mkdir()
    assert digest(root) != before


def test_build_args_and_target_change_the_hash(tmp_path):
    root = tree(tmp_path / "p", {"x.txt": "1"})
    plain = digest(root)
    assert digest(root, build_args=[("A", "1")]) != plain
    assert digest(root, build_args=[("A", "1")]) != digest(root, build_args=[("A", "2")])
    assert digest(root, target="dev") != plain


def test_excluded_files_do_not_change_the_tag(tmp_path):
    root = tree(tmp_path / "p", {"x.txt": "1", "logs/a.log": "1"}, ignore="logs\n*.tmp\n")
    before = digest(root)
    (root / "logs/a.log").write_text("2")
    (root / "scratch.tmp").write_text("3")
    assert digest(root) == before


def test_encoding_has_no_run_together_collisions(tmp_path):
    """path "ab"+content "c" must differ from path "a"+content "bc"."""
    a = tree(tmp_path / "a", {"ab": "c"})
    b = tree(tmp_path / "b", {"a": "bc"})
    assert digest(a) != digest(b)
    c = tree(tmp_path / "c", {"x/y": "1"})
    d = tree(tmp_path / "d", {"x_y": "1"})
    assert digest(c) != digest(d)


def test_build_arg_boundaries_are_unambiguous(tmp_path):
    root = tree(tmp_path / "p", {"x": "1"})
    assert digest(root, build_args=[("AB", "C")]) != digest(root, build_args=[("A", "BC")])


def test_tag_format(tmp_path):
    assert content_tag("0123456789abcdef") == "kudev-01234567"
    stamp = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert content_tag("0123456789abcdef", stamp) == "kudev-01234567-20260102-030405"


def random_edit(rng: random.Random, root: Path) -> list[Path]:
    """One random edit to the tree; returns the paths a watcher would report."""
    folders = ["", "a", "a/b", "vendor", "vendor/deep", "logs"]
    folder = root / rng.choice(folders)
    name = f"f{rng.randrange(6)}.txt"
    path = folder / name
    action = rng.choice(["write", "write", "delete", "chmod", "mkdir", "rmtree", "ignore"])
    if action == "write":
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(str(rng.random()))
        return [path]
    if action == "delete" and path.exists():
        path.unlink()
        return [path]
    if action == "chmod" and path.exists():
        os.chmod(path, rng.choice([0o644, 0o755]))
        return [path]
    if action == "mkdir":
        new = folder / f"new{rng.randrange(3)}"
        new.mkdir(parents=True, exist_ok=True)
        (new / "inner.txt").write_text(str(rng.random()))
        return [new]  # watchers may report only the folder
    if action == "rmtree" and folder != root and folder.exists():
        import shutil

        shutil.rmtree(folder)
        return [folder]
    if action == "ignore":
        ignore = root / ".dockerignore"
        ignore.write_text(rng.choice(["logs\n", "vendor\n!vendor/keep.txt\n", "*.txt\n!a\n", ""]))
        return [ignore]
    return []


@pytest.mark.parametrize("seed", range(8))
def test_incremental_hash_equals_cold_scan_after_random_edits(tmp_path, seed):
    rng = random.Random(seed)
    root = tree(
        tmp_path / "p",
        {"a/b/x.txt": "1", "vendor/keep.txt": "k", "logs/l.txt": "l"},
        ignore="logs\nvendor\n!vendor/keep.txt\n",
    )
    live = BuildContext(root, root / "Dockerfile")
    live.scan()
    for _ in range(40):
        live.update(random_edit(rng, root))
        cold = BuildContext(root, root / "Dockerfile")
        cold.scan()
        assert live.files() == cold.files()
        assert live.folders() == cold.folders()
        assert live.digest() == cold.digest()


def test_restart_reads_only_changed_files(tmp_path, monkeypatch):
    root = tree(tmp_path / "p", {f"f{i}.txt": str(i) for i in range(20)})
    cache = tmp_path / "cache"
    old = os.stat(root / "f0.txt").st_mtime_ns - 10_000_000_000
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, ns=(old, old))  # older than the "racily clean" window
    first = BuildContext(root, root / "Dockerfile", cache_dir=cache)
    first.scan()
    first.cache.save()
    (root / "f3.txt").write_text("changed")
    reads: list[str] = []
    import kudev.sources.readers as readers_module

    real = readers_module.file_digest
    monkeypatch.setattr(
        readers_module, "file_digest", lambda p, stop=None: reads.append(p) or real(p, stop)
    )
    second = BuildContext(root, root / "Dockerfile", cache_dir=cache)
    second.scan()
    assert sorted(Path(p).name for p in reads) == ["Dockerfile", "f3.txt"]
    assert second.digest() != first.digest()


def test_parallel_readers_give_the_same_digest_as_serial(tmp_path, monkeypatch):
    import kudev.sources.readers as readers_module

    root = tree(
        tmp_path / "p", {f"d{i % 7}/f{i}.txt": str(i) * i for i in range(60)}, ignore="d3\n"
    )
    (root / "d1" / "link").symlink_to("f1.txt")
    serial = BuildContext(root, root / "Dockerfile")
    serial.scan()
    monkeypatch.setattr(readers_module, "PARALLEL_MIN_FILES", 5)
    monkeypatch.setattr(readers_module, "_CHUNK", 4)
    parallel = BuildContext(root, root / "Dockerfile")
    parallel.scan()
    reader = readers_module.EntryReader()
    for rel in parallel.files()[:6]:
        reader.add(readers_module.Candidate(rel, str(root / rel), None))
    assert reader.pool is not None, "the worker-process path was not taken"
    assert [c.rel for c, _ in reader.results()] == parallel.files()[:6]
    reader.__exit__(None, None, None)
    assert parallel.files() == serial.files()
    assert parallel.digest() == serial.digest()
