"""Helpers for the builders' e2e tests (their fixtures are in conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
REGISTRY = "localhost:5000"  # the rig's KEP-1755 registry
BASE = "busybox:1.36"
HELLO = ROOT / "examples" / "hello"


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is missing: apt-get install {name}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI is set)", pytrace=False)
        pytest.skip(message)
    return path


def run(*argv: str, env: dict[str, str] | None = None, stdin: bytes | None = None) -> str:
    done = subprocess.run(argv, capture_output=True, input=stdin, env=env, timeout=300, check=False)
    if done.returncode != 0:
        pytest.fail(f"`{' '.join(argv)}` failed: {done.stderr.decode()[-2000:]}", pytrace=False)
    return done.stdout.decode()


def copy_hello(root: Path, name: str, namespace: str, extra_spec: str = "") -> Path:
    """examples/hello with a .kudev.yaml for this test's namespace."""
    shutil.copytree(HELLO, root)
    (root / ".kudev.yaml").write_text(
        "apiVersion: kudev.io/v1alpha1\nkind: DeploymentConfig\n"
        f"metadata:\n  name: {name}\nspec:\n  imageName: {name}\n  namespace: {namespace}\n"
        "  replicas: 1\n  servicePort: 8080\n  rolloutTimeout: 90\n" + extra_spec
    )
    return root
