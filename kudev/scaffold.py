"""`kudev init`: a `.kudev.yaml` in the Go kudev's format for the Dockerfile in a folder."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import yaml

from kudev.config import API_VERSION, CONFIG_NAMES, KIND
from kudev.errors import ConfigError

DEFAULT_PORT = 8080
_HEADER = """\
# kudev configuration, written by `kudev init`.
# Optional keys (several images, port-forwards, your own manifests, cluster, watch...) are
# described in .kudev.yaml.example in the kudev sources.
"""


def write_initial_config(folder: Path, force: bool = False) -> Path:
    """Writes `.kudev.yaml` for the Dockerfile in `folder`; returns its path."""
    existing = [folder / name for name in CONFIG_NAMES if (folder / name).exists()]
    if existing and not force:
        raise ConfigError(f"{existing[0]} already exists", "pass --force to replace it")
    dockerfile = find_dockerfile(folder)
    name = dns_label(folder.resolve().name)
    port = exposed_port(dockerfile)
    document = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name},
        "spec": {
            "imageName": name,
            "dockerfilePath": f"./{dockerfile.relative_to(folder).as_posix()}",
            "namespace": "default",
            "replicas": 1,
            "localPort": port,
            "servicePort": port,
        },
    }
    # With --force, replace the file that is there rather than add a second config beside it.
    path = existing[0] if existing else folder / CONFIG_NAMES[0]
    path.write_text(_HEADER + yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def find_dockerfile(folder: Path) -> Path:
    """`Dockerfile`, else `*.Dockerfile` / `Dockerfile.*`, in `folder`, else one folder down."""
    found = _dockerfile_in(folder)
    if found:
        return found
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    for subfolder in subfolders:
        found = _dockerfile_in(subfolder)
        if found:
            return found
    raise ConfigError(
        f"no Dockerfile in {folder} or the folders in it",
        "add a Dockerfile, or run `kudev init` in the folder that has one",
    )


def _dockerfile_in(folder: Path) -> Path | None:
    plain = folder / "Dockerfile"
    if plain.is_file():
        return plain
    variants = sorted(
        p
        for pattern in ("*.Dockerfile", "Dockerfile.*")
        for p in folder.glob(pattern)
        # BuildKit reads `<dockerfile>.dockerignore` as that Dockerfile's ignore file.
        if p.is_file() and not p.name.endswith(".dockerignore")
    )
    return variants[0] if variants else None


def dns_label(text: str) -> str:
    """`text` as a DNS-1123 label: `My_App (2)` gives `my-app-2`; `app` when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    label = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower())
    return label[:63].strip("-") or "app"


def exposed_port(dockerfile: Path) -> int:
    """The first port of the first EXPOSE; DEFAULT_PORT when there is none or it is `$VAR`."""
    for instruction in _instructions(dockerfile.read_text(encoding="utf-8", errors="replace")):
        keyword, *arguments = instruction.split()
        if keyword.upper() == "EXPOSE":
            return _first_port(arguments)
    return DEFAULT_PORT


def _first_port(arguments: list[str]) -> int:
    # "8080/tcp" and "8000-8010" are valid; "$PORT" comes from an ARG kudev does not evaluate.
    match = re.fullmatch(r"(\d+)(?:-\d+)?(?:/\w+)?", arguments[0]) if arguments else None
    port = int(match.group(1)) if match else 0
    return port if 1 <= port <= 65535 else DEFAULT_PORT


def _instructions(text: str) -> list[str]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    escape = _escape_character(text)
    instructions: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # comments may sit between continuation lines
        if line.endswith(escape):
            pending += line[:-1] + " "
            continue
        instructions.append(pending + line)
        pending = ""
    if pending:
        instructions.append(pending)
    return instructions


def _escape_character(text: str) -> str:
    """The `# escape=` parser directive (Windows Dockerfiles use a backtick)."""
    for line in text.splitlines():
        directive = re.fullmatch(r"\s*#\s*(\w+)\s*=\s*(\S*)\s*", line)
        if not directive:
            break  # directives only count before the first comment, blank line or instruction
        if directive.group(1).lower() == "escape" and directive.group(2):
            return directive.group(2)
    return "\\"
