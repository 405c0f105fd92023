"""Nothing in kudev runs a command through a shell: config values (importCommand, build
args, names) reach programs as argv entries, never as shell text. The e2e proof with hostile
values is tests/e2e/faults/test_shell_metacharacters.py."""

from __future__ import annotations

import ast
from pathlib import Path

KUDEV = Path(__file__).resolve().parents[1] / "kudev"
SHELL_CALLS = {"system", "popen", "getoutput", "getstatusoutput"}  # os.*, subprocess.*


def _shell_uses(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in SHELL_CALLS:
            found.append(f"{path}:{node.lineno}: {func.attr}()")
        for keyword in node.keywords:
            if keyword.arg == "shell" and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                found.append(f"{path}:{node.lineno}: shell=")
    return found


def test_no_module_runs_a_shell():
    uses = [use for path in sorted(KUDEV.rglob("*.py")) for use in _shell_uses(path)]
    assert uses == []
