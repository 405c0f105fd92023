"""1,000 randomly mutated `.kudev.yaml` files: each loads, or fails with a KudevError that
says where (file:line); never a traceback. The mutations start from the annotated example,
which uses every key, and work on its text (bytes cut, lines dropped, duplicated, re-indented,
values swapped for other YAML) so the parser, the format checks and the cross-key rules all
see broken input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kudev.config import load_config
from kudev.errors import KudevError

EXAMPLE = (Path(__file__).resolve().parents[1] / ".kudev.yaml.example").read_text()
LINES = EXAMPLE.splitlines()
VALUES = st.sampled_from(
    [
        "", "~", "null", "0", "-1", "99999999999999999999", "1.5", "true", "no", "[]", "{}",
        "[1, 2", "{a: 1", "'unterminated", '"\\x"', "&a x", "*a", "!!binary AA==",
        "!!python/object:os.system ls",
        "- x", ": :", "\t", "\x00", "\u202e", "é", "0o777", "2026-01-01", "=", "<<: *a",
        ". .", "../../etc/passwd", "/abs", "a" * 300, "'$(touch /tmp/x)'",
    ]
)  # fmt: skip
KEY_LINE = re.compile(r"^(\s*-?\s*[A-Za-z][\w.]*:)(.*)$")


@st.composite
def mutated_configs(draw) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        how = draw(st.sampled_from(["value", "drop", "dup", "indent", "cut", "swap", "raw"]))
        if how == "value" and (m := KEY_LINE.match(lines[i])):
            lines[i] = f"{m.group(1)} {draw(VALUES)}"
        elif how == "drop":
            del lines[i]
        elif how == "dup":
            lines.insert(i, lines[i])
        elif how == "indent":
            lines[i] = " " * draw(st.integers(0, 7)) + lines[i].lstrip()
        elif how == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif how == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines.insert(i, draw(st.text(max_size=30)))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "Dockerfile").write_text("FROM scratch\n")
    (root / "k8s").mkdir()  # the example's manifests folder
    return root


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated_configs())
def test_a_mutated_config_loads_or_says_where(project: Path, text: str) -> None:
    path = project / ".kudev.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_config(path)
    except KudevError as err:
        assert err.where.startswith(str(path)), f"no file:line for {err.cause!r}"
        assert re.match(rf"{re.escape(str(path))}:\d+", err.where), err.where
