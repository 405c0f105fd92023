"""Running kudev for real against the e2e cluster: projects on disk, the CLI, the engine."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

APP_DOCKERFILE = """\
FROM busybox:1.36
COPY www/ /www/
COPY serve.sh /serve.sh
CMD ["sh", "/serve.sh"]
"""
SERVE = """\
#!/bin/sh
# A shell as PID 1 ignores SIGTERM unless trapped: the old pod would linger 30 s.
trap 'kill $httpd; exit 0' TERM
echo "serving $(cat /www/version.txt)"
httpd -f -v -p 8080 -h /www &
httpd=$!
wait $httpd
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_app(
    root: Path,
    name: str,
    namespace: str,
    version: str = "v1",
    extra_spec: str = "",
    local_port: int | None = None,
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "www").mkdir(exist_ok=True)
    (root / "www" / "version.txt").write_text(version + "\n")
    (root / "www" / "index.html").write_text(f"hello {version}\n")
    (root / "serve.sh").write_text(SERVE)
    (root / "Dockerfile").write_text(APP_DOCKERFILE)
    (root / ".dockerignore").write_text(".kudev.yaml\nmanifests\n")
    port = local_port or free_port()
    spec = textwrap.indent(textwrap.dedent(extra_spec), "  ") if extra_spec else ""
    timeout = "" if "rolloutTimeout" in extra_spec else "  rolloutTimeout: 90\n"
    (root / ".kudev.yaml").write_text(
        "apiVersion: kudev.io/v1alpha1\nkind: DeploymentConfig\n"
        f"metadata:\n  name: {name}\nspec:\n  imageName: {name}\n"
        f"  namespace: {namespace}\n  replicas: 1\n  localPort: {port}\n"
        f"  servicePort: 8080\n{timeout}{spec}"
    )
    return root


def run_kudev(
    root: Path,
    kubeconfig: Path,
    *args: str,
    timeout: float = 240,
    env_extra: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "kudev", "-C", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def http_get(port: int, path: str = "/index.html", timeout: float = 5) -> str:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return r.read().decode()
