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
from tests.tools import missing_tool

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
    # moby matches with a Go regexp: RE2 reads [[:alpha:]] as a POSIX class (one letter),
    # rewrites * inside brackets ([a*] is [a[^/]* and a literal ]), and \d is a digit.
    "posix_classes_and_go_regexp": (
        "[[:alpha:]]\n[[:digit:]][[:digit:]].txt\n[a*]\nn\\d\n",
        ["a", "Z", "1", "a]", "ab", "42.txt", "4.txt", "n5", "nd", "x.txt"],
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


def reference_builds(
    root: Path, dockerfile: str = "Dockerfile", modern_only: bool = False, buildkit_only=False
) -> dict[str, str]:
    """name → image tag, built by the docker CLI itself: the only references.

    kudev's own builders send kudev's tar, so their images prove that kudev builds what it
    hashed, never what Docker would send; they are compared against the listing, not used
    as a reference.
    """
    images: dict[str, str] = {}
    for cli in docker_clis():
        if modern_only and cli_major(cli) < 23:
            continue
        for buildkit in (True,) if buildkit_only else (False, True):
            tag = unique_name("kudev-ctx") + ":ref"
            result = cli_build(cli, root, tag, buildkit, dockerfile)
            if result.returncode != 0:
                if buildkit and "buildx" in result.stderr:  # a CLI without its plugin
                    continue
                pytest.fail(f"{cli} build failed: {result.stderr}")
            images[f"{cli} {'buildkit' if buildkit else 'classic'}"] = tag
    if not images:
        missing_tool("no docker CLI here builds this case: nothing to compare with")
    # Only CLIs 23+ can build a modern-only case, and those need the buildx plugin for
    # BuildKit; Debian's 20.10 CLI (BuildKit built in) is the BuildKit reference elsewhere.
    if not modern_only and not any(name.endswith("buildkit") for name in images):
        missing_tool("no docker CLI here builds with BuildKit (a buildx plugin, or a pre-23 CLI)")
    return images


def kudev_builds(docker_client, root: Path, dockerfile: str = "Dockerfile") -> dict[str, str]:
    images = {}
    for name, builder in kudev_builders(docker_client).items():
        ctx = BuildContext(root, root / dockerfile)
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


def assert_images_hold(docker_client, images: dict[str, str], files: set[str], folders):
    for name, tag in images.items():
        in_image, folders_in_image = exported_paths(docker_client, tag, "/ctx")
        assert files == in_image, f"{name}: file sets differ"
        assert folders == folders_in_image, f"{name}: folder sets differ"


def remove_images(docker_client, *groups: dict[str, str]) -> None:
    for images in groups:
        for tag in images.values():
            docker_client.images.remove(tag, force=True)


@pytest.mark.parametrize("case", sorted(CASES))
def test_context_files_equal_what_docker_copies(docker_client, tmp_path, case):
    ignore, files = CASES[case]
    root = tmp_path / case
    make_tree(root, ignore, files)
    listed = kudev_files(root)
    assert listed == sorted(listed)
    references = reference_builds(root, modern_only=case in MODERN_ONLY)
    ours: dict[str, str] = {}
    try:
        assert_images_hold(docker_client, references, set(listed), kudev_folders(root))
        ours = kudev_builds(docker_client, root)
        assert_images_hold(docker_client, ours, set(listed), kudev_folders(root))
    finally:
        remove_images(docker_client, references, ours)


@pytest.mark.parametrize("pattern", ["[a-b-c]", "[x-]", "trailing\\", "!keep[x-]"])
def test_a_malformed_pattern_fails_the_build_in_docker_and_in_kudev(tmp_path, pattern):
    root = tmp_path / "ctx"
    make_tree(root, f"{pattern}\n", ["a.txt"])
    for cli in docker_clis():
        for buildkit in (False, True):
            result = cli_build(cli, root, unique_name("kudev-bad") + ":ref", buildkit)
            if buildkit and "buildx" in result.stderr:
                continue
            assert result.returncode != 0, f"{cli} buildkit={buildkit} accepted {pattern!r}"
    done = subprocess.run(
        [sys.executable, "-m", "kudev", "-C", str(root), "hash", "--files"],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "bad .dockerignore pattern" in done.stderr


PER_DOCKERFILE_CONFIG = """\
apiVersion: kudev.io/v1alpha1
kind: DeploymentConfig
metadata: {name: ctx}
spec: {imageName: ctx, dockerfilePath: ./app.Dockerfile}
"""


def test_the_per_dockerfile_ignore_file_wins_as_in_buildkit(docker_client, tmp_path):
    """BuildKit reads app.Dockerfile.dockerignore for app.Dockerfile instead of .dockerignore.

    The classic builder never reads it, so only BuildKit builds are references here.
    """
    root = tmp_path / "ctx"
    make_tree(root, "*.md\n", ["a.md", "b.txt", "c.py", "docs/d.md"])
    (root / "app.Dockerfile").write_text(COPY_ALL)
    (root / "app.Dockerfile.dockerignore").write_text("*.txt\n")
    (root / ".kudev.yaml").write_text(PER_DOCKERFILE_CONFIG)
    listed = kudev_files(root)
    assert "b.txt" not in listed and "a.md" in listed
    ctx = BuildContext(root, root / "app.Dockerfile")
    ctx.scan()
    references = reference_builds(root, "app.Dockerfile", buildkit_only=True)
    ours: dict[str, str] = {}
    try:
        assert_images_hold(docker_client, references, set(listed), set(ctx.folders()))
        ours = kudev_builds(docker_client, root, "app.Dockerfile")
        assert_images_hold(docker_client, ours, set(listed), set(ctx.folders()))
    finally:
        remove_images(docker_client, references, ours)


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
