"""Contexts that are not local are refused before any request: also one named like a local
cluster (`kind-…`, `minikube`) whose server is a public address. No packet may leave this
machine, so kudev runs under a guard that refuses (and records) every non-loopback connect."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.faults.faultlib import record, write_numbered_app

pytestmark = pytest.mark.e2e

PUBLIC_SERVER = "https://203.0.113.10:6443"  # TEST-NET-3: documentation, routed nowhere
GUARDED_KUDEV = """\
import ipaddress, socket, sys
attempts = open(sys.argv[1], "a")
real_connect = socket.socket.connect

def guarded(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            attempts.write(f"{host}\\n")
            attempts.flush()
            raise OSError(f"test guard: no connection to {host}")
    return real_connect(sock, address)

socket.socket.connect = guarded
sys.argv = ["kudev", *sys.argv[2:]]
from kudev.cli import main
sys.exit(main())
"""


def _remote_kubeconfig(rig: str, tmp_path, context: str):
    config = yaml.safe_load(Path(rig).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = PUBLIC_SERVER
        cluster["name"] = context
    for entry in config["contexts"]:
        entry["name"] = context
        entry["context"]["cluster"] = context
    config["current-context"] = context
    path = tmp_path / f"kubeconfig-{context}"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("context", ["kind-dev", "minikube", "prod-eu"])
def test_a_context_at_a_public_address_is_refused_before_any_request(
    context, tmp_path, kubeconfig_path
):
    remote = _remote_kubeconfig(str(kubeconfig_path), tmp_path, context)
    root = write_numbered_app(tmp_path / "app", "guarded", "default")
    attempts = tmp_path / "attempts"
    attempts.write_text("")
    env = {**os.environ, "KUBECONFIG": str(remote)}
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", GUARDED_KUDEV, str(attempts), "-C", str(root), "--once"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    seconds = time.monotonic() - start
    output = result.stdout + result.stderr
    record(f"context-refused-{context}", seconds=round(seconds, 2), rc=result.returncode)
    assert result.returncode == 1, output
    assert f"refusing kube context '{context}' (server {PUBLIC_SERVER})" in output, output
    if context != "prod-eu":
        assert "server is a public address" in output
    assert "Traceback" not in output
    assert attempts.read_text() == "", f"kudev tried to connect to: {attempts.read_text()}"
    assert seconds < 15, f"took {seconds:.1f} s: not refused before connecting"
