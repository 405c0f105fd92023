"""Architecture rules, checked in a fresh interpreter so other tests' imports cannot hide a leak."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import kudev

PACKAGE = Path(kudev.__file__).parent
# The dashboard: the Textual App and the packages that draw it. Everything else is the core.
UI = {"kudev.app", "kudev.screens", "kudev.widgets"}
# Front doors that start a front-end; they import the UI lazily, only when asked to.
ENTRY = {"kudev.__main__", "kudev.cli"}


def module_names() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("kudev", *path.relative_to(PACKAGE).with_suffix("").parts)
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def core_modules() -> list[str]:
    def in_ui(name: str) -> bool:
        return any(name == u or name.startswith(u + ".") for u in UI)

    return [m for m in module_names() if not in_ui(m) and m not in ENTRY]


def modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_the_core_is_derived_from_the_tree():
    core = core_modules()
    # Spot checks that the derivation sees the sub-packages, not just the top level.
    for name in ("kudev.engine.loop", "kudev.deploy.live.pods", "kudev.view_model.state"):
        assert name in core
    assert not [m for m in core if m.startswith(("kudev.screens", "kudev.widgets"))]


def test_core_never_imports_textual():
    core = core_modules()
    loaded = modules_after("\n".join(f"import {m}" for m in core))
    assert set(core) <= loaded
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
