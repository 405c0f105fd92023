"""kudev's own stdout/stderr, redirected into a file inside a build context, is left out.

Issue 11's hang: `kudev --headless --once > out.log` in a project without a .dockerignore
hashed its own growing log and could never tar a consistent snapshot.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kudev.config import Config, ImageSpec
from kudev.engine.cycle_host import ImageState
from kudev.engine.watching import WatchPlan
from kudev.own_output import inside, own_output_files
from kudev.project import Project, build_context
from kudev.sources.context import BuildContext
from tests.dockerlib import exported_paths, unique_name

REPO = Path(__file__).resolve().parent.parent


def test_a_regular_file_behind_an_fd_is_found_and_a_pipe_is_not(tmp_path):
    log = tmp_path / "out.log"
    with open(log, "w") as f:
        assert own_output_files([f.fileno()]) == (log.resolve(),)
    read_end, write_end = os.pipe()
    try:
        assert own_output_files([read_end, write_end]) == ()
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_deleted_output_file_is_not_claimed(tmp_path):
    log = tmp_path / "gone.log"
    with open(log, "w") as f:
        log.unlink()
        assert own_output_files([f.fileno()]) == ()


def test_only_outputs_inside_a_context_need_leaving_out(tmp_path):
    ctx, elsewhere = tmp_path / "ctx", tmp_path / "elsewhere"
    outputs = [ctx / "sub" / "out.log", elsewhere / "out.log"]
    assert inside(outputs, [ctx]) == [ctx / "sub" / "out.log"]


def _project(root: Path, own_output: tuple[Path, ...]) -> Project:
    root.mkdir(exist_ok=True)
    (root / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
    (root / "main.txt").write_text("v1\n")
    image = ImageSpec(name="app", context=root, dockerfile=root / "Dockerfile")
    config = Config(path=root / ".kudev.yaml", root=root, name="app", images=(image,))
    return Project(config=config, cache_dir=root.parent / "cache", own_output=own_output)


def test_the_output_file_is_neither_hashed_nor_rehashed_when_it_grows(tmp_path):
    root = tmp_path / "app"
    log = root / "out.log"
    project = _project(root, (log,))
    log.write_text("line 1\n")
    ctx = project.context_for()
    ctx.scan()
    assert ctx.files() == ["Dockerfile", "main.txt"]
    tag = ctx.tag()
    log.write_text("line 1\nline 2\n")
    assert ctx.update([log]) is False
    assert ctx.tag() == tag
    plain = BuildContext(root, root / "Dockerfile")
    plain.scan()
    assert "out.log" in plain.files()  # what Docker itself would send


def test_the_watch_ignores_the_output_file(tmp_path):
    root = tmp_path / "app"
    log = root / "out.log"
    project = _project(root, (log,))
    spec = project.config.image
    plan = WatchPlan(project, (ImageState(spec, build_context(spec, None, (log,))),))
    relevant = plan.relevant()
    assert not relevant(str(log))
    assert relevant(str(root / "main.txt"))


@pytest.mark.docker
def test_once_with_stdout_redirected_into_the_context_finishes_and_leaves_it_out(
    tmp_path, docker_client, cleanup_images, isolated_cache
):
    name = unique_name("kudev-own-output")
    root = tmp_path / name
    root.mkdir()
    (root / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
    (root / "main.txt").write_text("v1\n")
    cleanup_images.append(name)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "kudev", "--headless", "--once", "--build-only", "--json"]
    with open(root / "out.log", "w") as out:
        done = subprocess.run(
            argv, cwd=root, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=120
        )
    lines = (root / "out.log").read_text().splitlines()
    assert done.returncode == 0, "\n".join(lines)
    events = [json.loads(line) for line in lines if line.startswith("{")]
    notices = [e["message"] for e in events if e["type"] == "notice"]
    assert any("out.log" in m and "own output" in m for m in notices), notices
    ref = next(e["ref"] for e in events if e["type"] == "image_ready")
    files, _ = exported_paths(docker_client, ref, "/app")
    assert files == {"Dockerfile", "main.txt"}

    with open(root / "files.txt", "w") as listing:
        hashed = subprocess.run(
            [sys.executable, "-m", "kudev", "hash", "--files"],
            cwd=root,
            stdout=listing,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=60,
        )
    assert hashed.returncode == 0, hashed.stderr
    listed = (root / "files.txt").read_text().split()
    assert "files.txt" not in listed and "main.txt" in listed
    assert "files.txt" in hashed.stderr and "own output" in hashed.stderr
