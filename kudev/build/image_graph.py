"""Which of a project's images are built FROM which others, read from their Dockerfiles.

An image whose Dockerfile says `FROM base` (or `base:tag`, `--platform=… base AS x`), where
`base` is another image of the project, is built after `base` and against exactly the `base`
built in the same cycle: as Tilt does, the FROM line the builder reads names that ref
(`rewrite_from_lines`), and the dependent's tag folds in its upstreams' tags (`folded_tag`),
so editing `base` gives the dependent a new tag too.

Not followed: FROMs built from ARGs (`FROM $BASE`: the value is not known before the build),
`COPY --from=image`, and a FROM split over continuation lines.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kudev.config.model import ImageSpec
from kudev.errors import ConfigError
from kudev.image_ref import parse_ref
from kudev.sources.context import content_tag

# FROM, its flags (--platform=…), the image, the rest ("AS stage").
_FROM = re.compile(r"^(\s*FROM\s+(?:--\S+\s+)*)(\S+)(.*)$", re.IGNORECASE)
_AS = re.compile(r"^\s+AS\s+(\S+)", re.IGNORECASE)
# Builders that can build FROM an image the same builder made in this session.
FROM_CAPABLE_BUILDERS = ("auto", "docker")


def _project_image(token: str, names: Iterable[str], stages: set[str]) -> str:
    """The project image `token` names ("" for none): by name, tag or not, never a stage."""
    if "$" in token or token.lower() in stages:
        return ""
    ref = parse_ref(token)
    if ref.host or ref.digest:
        return ""
    return ref.path if ref.path in set(names) else ""


def _from_lines(text: str, names: Sequence[str]) -> Iterable[tuple[int, re.Match[str], str]]:
    """(line index, match, project image or "") for each FROM line, stage names tracked."""
    stages: set[str] = set()
    for index, line in enumerate(text.splitlines(keepends=True)):
        found = _FROM.match(line.rstrip("\r\n"))
        if found is None:
            continue
        yield index, found, _project_image(found.group(2), names, stages)
        alias = _AS.match(found.group(3))
        if alias:
            stages.add(alias.group(1).lower())


def from_images(text: str, names: Sequence[str]) -> tuple[str, ...]:
    """The project images (of `names`) that a Dockerfile's stages are built FROM, in order."""
    seen: dict[str, None] = {}
    for _, _, image in _from_lines(text, names):
        if image:
            seen[image] = None
    return tuple(seen)


def rewrite_from_lines(text: str, refs: Mapping[str, str]) -> str:
    """The Dockerfile with each FROM of a project image naming the exact ref in `refs`."""
    lines = text.splitlines(keepends=True)
    for index, found, image in _from_lines(text, list(refs)):
        if image:
            ending = lines[index][len(lines[index].rstrip("\r\n")) :]
            lines[index] = f"{found.group(1)}{refs[image]}{found.group(3)}{ending}"
    return "".join(lines)


@dataclass(frozen=True)
class ImageGraph:
    """Each image's upstreams (the project images it is built FROM), and a build order."""

    upstream: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, images: Sequence[ImageSpec]) -> ImageGraph:
        names = [image.name for image in images]
        upstream = {image.name: _dockerfile_images(image, names) for image in images}
        graph = cls(upstream)
        graph.order()  # a cycle is a config error now, not a hang later
        _check_builders(images, upstream)
        return graph

    def order(self) -> list[str]:
        """Every image after its upstreams (depth first, in configured order otherwise)."""
        done: list[str] = []
        visiting: list[str] = []

        def visit(name: str) -> None:
            if name in done:
                return
            if name in visiting:
                loop = [*visiting[visiting.index(name) :], name]
                raise ConfigError(
                    f"images are built FROM each other in a cycle: {' → '.join(loop)}",
                    "one of these Dockerfiles must start FROM an image outside the cycle",
                )
            visiting.append(name)
            for up in self.upstream.get(name, ()):
                visit(up)
            visiting.pop()
            done.append(name)

        for name in self.upstream:
            visit(name)
        return done

    def closure(self, name: str) -> list[str]:
        """The image's upstreams, theirs, and so on (not the image itself)."""
        found: list[str] = []
        for up in self.upstream.get(name, ()):
            for each in (*self.closure(up), up):
                if each not in found:
                    found.append(each)
        return found


def _dockerfile_images(image: ImageSpec, names: Sequence[str]) -> tuple[str, ...]:
    try:
        text = Path(image.dockerfile).read_text(errors="replace")
    except OSError:
        return ()  # the build reports the missing Dockerfile where it happens
    return tuple(up for up in from_images(text, names) if up != image.name)


def _check_builders(images: Sequence[ImageSpec], upstream: Mapping[str, tuple[str, ...]]) -> None:
    """A FROM of another image needs that image in the same Docker Engine: podman, buildah
    and the layer builder keep images elsewhere (or pull bases from a registry)."""
    by_name = {image.name: image for image in images}
    for name, ups in upstream.items():
        for up in ups:
            pair = {by_name[name].builder, by_name[up].builder}
            if len(pair) > 1 or not pair <= set(FROM_CAPABLE_BUILDERS):
                raise ConfigError(
                    f"image {name!r} is built FROM image {up!r}, which needs both built by "
                    f"the Docker Engine (builder: {by_name[name].builder} and "
                    f"{by_name[up].builder})",
                    "give both `builder: auto` or `builder: docker`",
                )


def folded_tag(
    digest: str, upstream_tags: Mapping[str, str], timestamp: datetime | None = None
) -> str:
    """The image's tag: its context digest, with its upstreams' tags folded in so that a new
    upstream gives it a new tag. An image without upstreams keeps its plain content tag."""
    if upstream_tags:
        h = hashlib.sha256(digest.encode())
        for name, tag in sorted(upstream_tags.items()):
            h.update(f"\0{name}={tag}".encode())
        digest = h.hexdigest()
    return content_tag(digest, timestamp)


def tag_from_sources(
    graph: ImageGraph,
    name: str,
    digest_of: Callable[[str], str],
    timestamp: datetime | None = None,
) -> str:
    """The tag the image's sources give, its upstreams' folded in (`kudev hash`: the engine
    folds the tags its upstreams were just built with, which are these)."""
    ups = {up: tag_from_sources(graph, up, digest_of) for up in graph.upstream.get(name, ())}
    return folded_tag(digest_of(name), ups, timestamp)
