"""Architecture rules, checked in a fresh interpreter so other tests' imports cannot hide a leak."""

from __future__ import annotations

import json
import subprocess
import sys

CORE = [
    "kudev.engine",
    "kudev.context",
    "kudev.dockerignore",
    "kudev.build",
    "kudev.buildkit",
    "kudev.config",
    "kudev.cluster",
    "kudev.loaders",
    "kudev.delivery",
    "kudev.watch",
    "kudev.events",
    "kudev.manifests",
    "kudev.substitute",
    "kudev.templates",
    "kudev.deploy",
    "kudev.deployer",
    "kudev.rollout",
    "kudev.headless",
    "kudev.project",
    "kudev.doctor",
]


def modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_core_never_imports_textual():
    loaded = modules_after("\n".join(f"import {m}" for m in CORE))
    assert set(CORE) <= loaded
    assert not {m for m in loaded if m.split(".")[0] == "textual"}


def test_help_loads_neither_docker_kubernetes_nor_textual():
    loaded = modules_after(
        "import contextlib, io\nfrom kudev.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])"
    )
    assert "kudev.cli" in loaded
    heavy = {"docker", "kubernetes", "textual", "watchfiles", "yaml"}
    assert not heavy & {m.split(".")[0] for m in loaded}
