"""The kudev command itself, run as a user runs it: `python -m kudev …` in a subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kudev import exit_codes
from kudev.cli import VERSION
from tests.dockerlib import unique_name

REPO = Path(__file__).resolve().parent.parent


def kudev(cwd: Path, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kudev", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
    )


def dockerfile_folder(root: Path, dockerfile: str = "FROM scratch\nCOPY . /app\n") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    (root / "main.txt").write_text("v1\n")
    return root


def test_version_prints_the_version(tmp_path):
    done = kudev(tmp_path, "version")
    assert (done.returncode, done.stdout) == (0, f"kudev {VERSION}\n")


def test_init_then_validate(tmp_path):
    root = dockerfile_folder(tmp_path / "My_Shop", "FROM scratch\nEXPOSE 9090\n")
    done = kudev(root, "init")
    assert done.returncode == 0, done.stderr
    config = (root / ".kudev.yaml").read_text()
    assert "name: my-shop" in config and "localPort: 9090" in config
    checked = kudev(root, "validate")
    assert (checked.returncode, checked.stdout.strip()) == (0, f"{root / '.kudev.yaml'}: ok")
    again = kudev(root, "init")
    assert again.returncode == exit_codes.USAGE
    assert "already exists" in again.stderr and "--force" in again.stderr
    assert kudev(root, "init", "--force").returncode == 0


def test_validate_reports_every_problem_with_its_position_and_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: kudev.io/v1alpha1\nkind: DeploymentConfig\nmetadata:\n  name: x\n"
        "spec:\n  replicas: many\n  imagName: x\n"
    )
    done = kudev(tmp_path, "validate", str(bad))
    assert done.returncode == exit_codes.USAGE == 2
    lines = done.stderr.strip().splitlines()
    assert any(re.match(rf"{re.escape(str(bad))}:6:\d+: spec\.replicas", x) for x in lines), lines
    assert any("imagName" in x and "did you mean" in x for x in lines), lines


def test_bad_arguments_exit_2(tmp_path):
    done = kudev(tmp_path, "--no-such-flag")
    assert done.returncode == 2 and "unrecognized arguments" in done.stderr


def test_a_broken_config_stops_a_run_with_exit_2(tmp_path):
    root = dockerfile_folder(tmp_path / "app")
    (root / ".kudev.yaml").write_text("apiVersion: kudev.io/v1alpha1\nkind: Nope\n")
    done = kudev(root, "--headless", "--once", "--build-only")
    assert done.returncode == exit_codes.USAGE, done.stderr
    assert ".kudev.yaml" in done.stderr


def test_the_dashboard_refuses_without_a_terminal(tmp_path):
    root = dockerfile_folder(tmp_path / "app")
    done = kudev(root)  # stdout is a pipe here
    assert done.returncode == exit_codes.USAGE
    assert "needs a terminal" in done.stderr and "--headless" in done.stderr
    assert done.stdout == ""


@pytest.mark.docker
def test_build_only_with_a_timestamp_needs_no_cluster(tmp_path, docker_client, cleanup_images):
    name = unique_name("kudev-cli")
    root = dockerfile_folder(tmp_path / name)
    cleanup_images.append(name)
    argv = ("--once", "--build-only", "--build-timestamp", "--json")
    done = kudev(root, *argv, KUBECONFIG=str(tmp_path / "no-such-kubeconfig"))
    assert done.returncode == 0, done.stdout + done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    kinds = [e["type"] for e in events]
    assert "cluster_connected" not in kinds
    ready = next(e for e in events if e["type"] == "image_ready")
    assert re.fullmatch(r"kudev-[0-9a-f]{8}-\d{8}-\d{6}", ready["tag"]), ready
    assert ready["ref"] == f"{name}:{ready['tag']}" and not ready["loaded"]
    loads = [e for e in events if e["type"] == "stage_finished" and e["stage"] == "load"]
    assert [e["skipped"] for e in loads] == [True]
    docker_client.images.get(ready["ref"])
    plain = kudev(root, "hash")
    assert ready["tag"].startswith(plain.stdout.strip() + "-")  # same content, same hash


@pytest.mark.docker
def test_ctrl_c_during_once_exits_130_within_seconds(
    tmp_path, docker_client, busybox_base, cleanup_images
):
    name = unique_name("kudev-cli-int")
    root = dockerfile_folder(tmp_path / name, f"FROM {busybox_base}\nRUN sleep 60\n")
    (root / "nonce").write_text(name)  # no layer cache from an earlier run
    (root / "Dockerfile").write_text(f"FROM {busybox_base}\nCOPY nonce /\nRUN sleep 60\n")
    cleanup_images.append(name)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kudev", "--once", "--build-only", "--json"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # wait until the build really runs
            event = json.loads(line)
            if event["type"] == "build_output" and "sleep" in event["line"]:
                break
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        code = proc.wait(timeout=15)
        assert code == exit_codes.INTERRUPTED == 130
        assert time.monotonic() - sent < 10
    finally:
        proc.kill()
        proc.wait()
