"""The build context kudev hashes is exactly what Docker puts into an image.

Each case builds a real image whose Dockerfile copies the whole context, with the docker CLI
(classic builder and, where the CLI has it, BuildKit) and with kudev's own builder, then
compares the image's files with `kudev hash --files`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kudev.build.buildkit import CliBuildKitBuilder, find_buildkit_cli
from kudev.build.classic import ImageBuilder
from kudev.sources.context import BuildContext
from tests.dockerlib import cli_build, docker_clis, exported_paths, unique_name

pytestmark = pytest.mark.docker

COPY_ALL = "FROM scratch\nCOPY . /ctx\n"

CASES: dict[str, tuple[str, list[str]]] = {
    "exception_inside_excluded_dir": (
        "vendor\n!vendor/keep.txt\n!vendor/deep/also.txt\n",
        ["vendor/a.txt", "vendor/keep.txt", "vendor/deep/also.txt", "vendor/deep/not.txt", "m.go"],
    ),
    "exception_cannot_rescue_pruned_dir": (
        "node_modules\n!**/keep\n",
        ["node_modules/keep", "node_modules/x/keep", "src/keep", "src/a.js"],
    ),
    "double_star": (
        "**/*.log\n!important/**\nbuild/**\n",
        [
            "a.log",
            "x/y/b.log",
            "important/c.log",
            "important/d/e.log",
            "build/out/bin",
            "mod.py",
            "build.txt",
        ],
    ),
    # Docker CLI 23+ (moby/patternmatcher's suffix fast path): `**.pyc` excludes every file
    # ending in .pyc. Older CLIs (Debian's 20.10) only excluded files named ".pyc".
    "double_star_suffix": (
        "**.pyc\n",
        ["pkg/mod.pyc", "mod.pyc", "mod.py", ".pyc"],
    ),
    "dotfiles": (
        ".*\n!.env.example\n",
        [".env", ".env.example", ".git/HEAD", ".git/objects/ab", ".hidden/x", "visible.txt"],
    ),
    "dockerfile_and_ignore_excluded": (
        "Dockerfile\n.dockerignore\n*.md\n",
        ["README.md", "docs/guide.md", "main.py"],
    ),
    "leading_slash_and_cleaning": (
        "/build/../dist\n./tmp/\n/*/cache\n  spaced.txt  \n# comment.txt\n",
        ["dist/a", "tmp/b", "x/cache/c", "x/y/cache/d", "spaced.txt", "# comment.txt", "ok"],
    ),
    "wildcards_and_classes": (
        "src/*/tmp\nfile?.txt\n[ab].txt\n!fileX.txt\n",
        ["src/m/tmp/x", "src/m/n/tmp/y", "file1.txt", "fileX.txt", "file10.txt", "a.txt", "c.txt"],
    ),
    "reinclude_then_exclude_again": (
        "*\n!src\nsrc/**/*.tmp\n!Dockerfile\n",
        ["src/a.py", "src/b.tmp", "src/d/e.tmp", "src/d/f.py", "top.txt"],
    ),
}


def make_tree(root: Path, ignore: str, files: list[str]) -> None:
    root.mkdir()
    (root / "Dockerfile").write_text(COPY_ALL)
    (root / ".dockerignore").write_text(ignore)
    for index, rel in enumerate(files):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content {index}\n")
    (root / "empty-dir").mkdir()
    (root / "link-to-file").symlink_to("Dockerfile")
    (root / "dangling-link").symlink_to("does/not/exist")


def kudev_files(root: Path) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "kudev", "-C", str(root), "hash", "--files"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.splitlines()


def kudev_folders(root: Path) -> set[str]:
    ctx = BuildContext(root, root / "Dockerfile")
    ctx.scan()
    return set(ctx.folders())


MODERN_ONLY = {"double_star_suffix"}


def cli_major(cli: str) -> int:
    out = subprocess.run(
        [cli, "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True
    )
    return int(out.stdout.strip().split(".")[0] or 0)


def reference_builds(docker_client, root: Path, modern_only: bool = False) -> dict[str, str]:
    """name → image tag, for every way this machine can build the context."""
    images = {}
    for cli in docker_clis():
        if modern_only and cli_major(cli) < 23:
            continue
        for buildkit in (False, True):
            tag = unique_name("kudev-ctx") + ":ref"
            result = cli_build(cli, root, tag, buildkit)
            if result.returncode != 0:
                if buildkit:  # a CLI without BuildKit support (no buildx plugin)
                    continue
                pytest.fail(f"{cli} build failed: {result.stderr}")
            images[f"{cli} {'buildkit' if buildkit else 'classic'}"] = tag
    for name, builder in kudev_builders(docker_client).items():
        ctx = BuildContext(root, root / "Dockerfile")
        ctx.scan()
        tag = unique_name("kudev-ctx") + ":kudev"
        builder.build(ctx, tag, lambda line, stream: None)
        images[name] = tag
    return images


def kudev_builders(docker_client) -> dict[str, ImageBuilder]:
    builders = {"kudev sdk": ImageBuilder(docker_client)}
    cli = find_buildkit_cli()
    if cli:
        builders["kudev buildkit"] = CliBuildKitBuilder(docker_client, cli)
    return builders


@pytest.mark.parametrize("case", sorted(CASES))
def test_context_files_equal_what_docker_copies(docker_client, tmp_path, case):
    ignore, files = CASES[case]
    root = tmp_path / case
    make_tree(root, ignore, files)
    listed = kudev_files(root)
    assert listed == sorted(listed)
    images = reference_builds(docker_client, root, modern_only=case in MODERN_ONLY)
    assert len(images) >= 2, "no docker CLI to compare with"
    try:
        for name, tag in images.items():
            in_image, folders = exported_paths(docker_client, tag, "/ctx")
            assert set(listed) == in_image, f"{name}: file sets differ"
            assert kudev_folders(root) == folders, f"{name}: folder sets differ"
    finally:
        for tag in images.values():
            docker_client.images.remove(tag, force=True)


def test_cases_exercise_both_inclusion_and_exclusion(tmp_path):
    """Guard against a case that proves nothing: each keeps some files and drops others."""
    for case, (ignore, files) in CASES.items():
        root = tmp_path / case
        make_tree(root, ignore, files)
        ctx = BuildContext(root, root / "Dockerfile")
        ctx.scan()
        kept = set(ctx.files()) & set(files)
        assert kept and kept != set(files), case
        assert os.path.islink(root / "link-to-file")
