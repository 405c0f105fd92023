"""What the engine needs of an image builder, and the types every builder shares.

The classic API builder and the BuildKit CLI builder implement `Builder`; so does the
engine suite's fake, which needs no Docker at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol

from kudev.errors import BuildFailed, KudevError

if TYPE_CHECKING:
    from kudev.sources.context import BuildContext

# (line, stream): stream is "stdout" or "error"
LineSink = Callable[[str, str], None]


def refuse_bases(builder: str, bases: Mapping[str, str] | None) -> None:
    """For builders that keep their images apart from the Docker Engine's."""
    if bases:
        names = ", ".join(sorted(bases))
        raise BuildFailed(
            f"{builder} cannot build FROM another image of the project ({names})",
            "build these images with the Docker Engine (`builder: docker`)",
        )


class BuildCancelled(KudevError):
    """A newer change arrived; the build was stopped on purpose."""


class ContextChanged(KudevError):
    """A file changed between hashing and sending it; `rel` is its path in the context."""

    def __init__(self, cause: str, rel: str) -> None:
        super().__init__(cause)
        self.rel = rel


@dataclass(frozen=True)
class BuildResult:
    ref: str
    image_id: str
    built: bool  # False when the tag existed and the build was skipped


@dataclass
class PreparedBuild:
    ref: str
    body: IO[bytes]
    params: dict[str, Any]
    # The tar carries a Dockerfile that is not a context file; only the classic builder
    # strips it again (via the synthetic .dockerignore), BuildKit would copy it.
    extra_dockerfile: bool = False


class Builder(Protocol):
    """Runs one build at a time; `cancel()` may come from another thread."""

    @property
    def client(self) -> Any:
        """The Docker client image loaders may share; None for a builder without one."""
        ...

    def describe(self) -> str: ...

    def has_image(self, ref: str) -> bool:
        """Whether an image with this reference exists already (the build can be skipped)."""
        ...

    def prepare(
        self, context: BuildContext, ref: str, bases: Mapping[str, str] | None = None
    ) -> PreparedBuild:
        """Capture the context now, so it may change while the build runs.

        `bases` maps the project images this one is built FROM to the exact refs to use
        (build/image_graph.py); a builder that cannot see them raises BuildFailed."""
        ...

    def run(self, prepared: PreparedBuild, on_line: LineSink) -> BuildResult:
        """Build; safe to call from a worker thread. Raises BuildCancelled after cancel()."""
        ...

    def cancel(self) -> None: ...

    def close(self) -> None:
        """Release the connection; the builder is not used afterwards."""
        ...
