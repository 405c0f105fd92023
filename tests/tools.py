"""The one rule for tests that need a tool: skip without it locally, fail under CI.

A green CI run means every test ran. `CI` set (to anything) turns each missing docker,
ctr, docker-registry, BuildKit, kubectl (kustomize), helm or e2e cluster into a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest


def under_ci() -> bool:
    return bool(os.environ.get("CI"))


def missing_tool(what: str) -> NoReturn:
    """Skip with `what`; under CI the same message fails the test."""
    if under_ci():
        pytest.fail(f"{what} (CI is set: a missing tool fails, it never skips)", pytrace=False)
    pytest.skip(what)


def require_tool(name: str, why: str, env: str | None = None) -> str:
    """The path of tool `name` ($`env` first, then PATH); skip or fail without it."""
    if env and os.environ.get(env):
        path = os.environ[env]
        if Path(path).is_file() and os.access(path, os.X_OK):
            return path
        missing_tool(f"{env}={path} is not an executable file ({why})")
    found = shutil.which(name)
    if found is None:
        missing_tool(f"{name} is not on PATH ({why})")
    return found
