"""Builders that drive a containers-storage tool (podman, buildah) through its CLI.

The context goes in as kudev's own tar on stdin (`build -`), the very bytes the Docker path
hashes and sends; output is streamed line by line; a newer change interrupts the tool
(`cli_process`). The images stay in the tool's storage, which is also the `ImageStore` the
loaders push or save from — Docker is never asked for anything.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from kudev.build.builder import BuildResult, LineSink, PreparedBuild, refuse_bases
from kudev.build.buildkit import build_flags
from kudev.build.cli_process import CliProcess
from kudev.build.context_tar import spooled_context_tar
from kudev.build.image_store import LoadLineSink, file_chunks
from kudev.errors import BuildFailed, KudevError
from kudev.image_ref import parse_ref
from kudev.sources.context import BuildContext
from kudev.tool_run import run_streaming

_STEP = re.compile(r"^STEP \d+/\d+: (.*)$")
QUERY_TIMEOUT_S = 30


class ToolMissing(KudevError):
    """The configured builder's tool is not installed."""


class ContainersCliBuilder:
    """The shared half of the podman and buildah builders; subclasses name their commands."""

    tool = ""
    build_command: tuple[str, ...] = ()

    def __init__(self, exe: str) -> None:
        self.exe = exe
        self._process = CliProcess()
        self.version = _version(exe)

    # -- Builder -------------------------------------------------------------------------

    @property
    def client(self) -> ContainersCliBuilder:
        """Loaders read the image from this builder's storage (it is an ImageStore)."""
        return self

    def describe(self) -> str:
        return f"{self.tool} {self.version} ({self.exe})"

    def has_image(self, ref: str) -> bool:
        return self._quiet(self.exists_argv(stored_name(ref))) == 0

    def exists_argv(self, ref: str) -> list[str]:
        raise NotImplementedError

    def prepare(
        self, context: BuildContext, ref: str, bases: Mapping[str, str] | None = None
    ) -> PreparedBuild:
        refuse_bases(self.tool, bases)
        body, dockerfile = spooled_context_tar(context)
        params = {
            "dockerfile": dockerfile,
            "target": context.target or None,
            "buildargs_dict": dict(context.build_args),
        }
        # An excluded or outside Dockerfile is named by the tar's synthetic .dockerignore,
        # which podman and buildah honour, as the classic builder does.
        return PreparedBuild(ref=ref, body=body, params=params)

    def run(self, prepared: PreparedBuild, on_line: LineSink) -> BuildResult:
        self._process.reset()
        with tempfile.TemporaryDirectory(prefix="kudev-build-") as scratch:
            iid = Path(scratch) / "iid"
            argv = [
                self.exe,
                *self.build_command,
                *build_flags(prepared, stored_name(prepared.ref)),
                "--iidfile",
                str(iid),
                "-",
            ]
            try:
                prepared.body.seek(0)
                code, failure = self._process.run(argv, prepared.body, on_line, _StepLines())
            finally:
                prepared.body.close()
            if code != 0:
                raise BuildFailed(
                    failure or f"{self.tool} build exited with {code}",
                    "fix the step above; the last good image keeps running",
                )
            image_id = iid.read_text().strip() if iid.exists() else ""
        return BuildResult(ref=prepared.ref, image_id=image_id, built=True)

    def cancel(self) -> None:
        self._process.cancel()

    def close(self) -> None:
        """Nothing is held open between builds."""

    # -- ImageStore ----------------------------------------------------------------------

    def store_name(self) -> str:
        return f"{self.tool}'s storage"

    def pushed_digests(self, ref: str, name: str) -> set[str]:
        return set()  # a push sends only missing blobs; nothing recorded to compare with

    def push_to(self, ref: str, target: str, on_line: LoadLineSink) -> str:
        run_streaming(
            [self.exe, "push", *_tls_flag(target), stored_name(ref), f"docker://{target}"],
            on_line,
            remedy=f"is the registry {parse_ref(target).host} running? "
            f"`{self.tool} push {ref} docker://{target}` shows the same",
        )
        return target

    def save_archive(self, ref: str) -> Iterator[bytes]:
        scratch = tempfile.TemporaryDirectory(prefix="kudev-save-")  # noqa: SIM115
        archive = Path(scratch.name) / "image.tar"
        try:
            run_streaming(self.save_argv(stored_name(ref), archive), lambda line: None)
        except BaseException:
            scratch.cleanup()
            raise
        return _chunks_then_cleanup(archive, scratch)

    def save_argv(self, ref: str, archive: Path) -> list[str]:
        raise NotImplementedError

    def _quiet(self, argv: list[str]) -> int:
        try:
            done = subprocess.run(argv, capture_output=True, timeout=QUERY_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired):
            return -1
        return done.returncode


def stored_name(ref: str) -> str:
    """The name the image gets in the tool's storage: Docker's normalised one, so that an
    archive names it as the kubelet will ask for it (`app:1` → `docker.io/library/app:1`),
    not podman's `localhost/app:1`."""
    return parse_ref(ref).normalized()


def _chunks_then_cleanup(
    archive: Path, scratch: tempfile.TemporaryDirectory[str]
) -> Iterator[bytes]:
    try:
        yield from file_chunks(archive)
    finally:
        scratch.cleanup()


def _tls_flag(target: str) -> list[str]:
    """Plain HTTP only where kudev allows it: loopback and the cluster's own registry."""
    from kudev.oci.client import allows_plain_http
    from kudev.oci.source import cluster_registry

    host = parse_ref(target).host
    return ["--tls-verify=false"] if allows_plain_http(host, cluster_registry()) else []


def _version(exe: str) -> str:
    try:
        out = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, timeout=QUERY_TIMEOUT_S
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ToolMissing(f"cannot run {exe}: {err}", f"reinstall {os.path.basename(exe)}") from err
    match = re.search(r"version (\S+)", out)
    return match.group(1) if match else "?"


class _StepLines:
    """Reads `STEP n/m: …` lines, to say at which step an `Error:` came."""

    def __init__(self) -> None:
        self.step = ""

    def __call__(self, line: str) -> tuple[str, str]:
        step = _STEP.match(line)
        if step:
            self.step = step.group(1)
        if line.startswith(("Error:", "error ")):
            message = line.split(":", 1)[1].strip() if ":" in line else line
            where = f" at {self.step}" if self.step else ""
            return "error", f"build failed{where}: {message}"
        return "stdout", ""
