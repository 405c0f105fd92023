"""The layer builder as the engine sees it: a `Builder`, and the `ImageStore` loaders use.

`prepare` captures the context: it reads the Dockerfile, resolves the base (once a session),
and reads the files each COPY/ADD takes (refusing a file that changed since it was hashed).
`run` makes the layers (a layer whose files did not change is reused), then the config and
manifest. Nothing is sent until the load stage: `push_to` sends only what the registry
lacks and returns the reference by digest; `save_archive` writes a docker-archive.
"""

from __future__ import annotations

import copy
import io
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from kudev.build.builder import (
    BuildCancelled,
    BuildResult,
    LineSink,
    PreparedBuild,
    refuse_bases,
)
from kudev.build.image_store import LoadLineSink, file_chunks
from kudev.build.layers.archive import write_archive
from kudev.build.layers.assemble import Assembled, assemble
from kudev.build.layers.base import BaseImage, base_tree, resolve_base
from kudev.build.layers.dockerfile import ConfigStep, CopyStep, Plan, plan_for
from kudev.build.layers.layer_tar import (
    Entry,
    Layer,
    cache_key,
    copy_entries,
    layer_from_entries,
    read_sources,
)
from kudev.build.layers.push import BlobPusher
from kudev.build.layers.tree import ImageTree
from kudev.errors import ClusterError
from kudev.sources.context import BuildContext
from kudev.sources.digest_cache import default_cache_dir

KEPT_LAYERS = 256
KEPT_IMAGES = 32


@dataclass
class _Captured:
    step: CopyStep | ConfigStep
    key: str = ""  # "" for a step that makes no layer
    entries: tuple[Entry, ...] = ()
    read: dict[str, bytes] | None = None  # None when the layer is cached


class LayersBuilder:
    def __init__(self, base_registry: str = "", cache_dir: Path | None = None) -> None:
        self.base_registry = base_registry
        self.cache = (cache_dir or default_cache_dir()) / "blobs"
        self._bases: dict[str, BaseImage] = {}
        self._layers: OrderedDict[str, Layer] = OrderedDict()
        self._images: OrderedDict[str, tuple[Assembled, BaseImage]] = OrderedDict()
        self._pusher = BlobPusher(self.cache)
        self._lock = threading.Lock()
        self._cancelled = False

    # -- Builder -------------------------------------------------------------------------

    @property
    def client(self) -> LayersBuilder:
        return self

    def describe(self) -> str:
        mirror = f", bases from {self.base_registry} first" if self.base_registry else ""
        return f"layers (kudev assembles the image itself, no daemon{mirror})"

    def has_image(self, ref: str) -> bool:
        return ref in self._images

    def check(self, context: BuildContext) -> Plan:
        """The plan, or LayersRefused naming the line this builder cannot do."""
        return plan_for(context.dockerfile, dict(context.build_args), context.target)

    def prepare(
        self, context: BuildContext, ref: str, bases: Mapping[str, str] | None = None
    ) -> PreparedBuild:
        refuse_bases("the layer builder", bases)
        plan = self.check(context)
        base = self._base(plan.base)
        tree = copy.deepcopy(base_tree(base, self.cache))
        captured = [self._capture(step, context, tree) for step in plan.steps]
        params = {"plan": plan, "base": base, "captured": captured}
        return PreparedBuild(ref=ref, body=io.BytesIO(), params=params)

    def run(self, prepared: PreparedBuild, on_line: LineSink) -> BuildResult:
        with self._lock:
            self._cancelled = False
        base: BaseImage = prepared.params["base"]
        where = f"{base.host}/{base.repository}" if base.host else "nothing"
        on_line(f"FROM {base.name} (from {where})", "stdout")
        steps: list[tuple[CopyStep | ConfigStep, Layer | None]] = []
        for item in prepared.params["captured"]:
            if self._cancelled:
                raise BuildCancelled("build cancelled: a newer change arrived", "")
            layer = self._layer(item)
            said = f" → layer {layer.digest[:19]} ({len(layer.gz)} bytes)" if layer else ""
            on_line(" ".join(item.step.instruction.text.split()) + said, "stdout")
            steps.append((item.step, layer))
        image = assemble(base, steps)
        self._remember(self._images, prepared.ref, (image, base), KEPT_IMAGES)
        on_line(f"image {image.digest} (config {image.config_digest[:19]})", "stdout")
        return BuildResult(ref=prepared.ref, image_id=image.config_digest, built=True)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True

    def close(self) -> None:
        """Nothing is held open."""

    # -- ImageStore ----------------------------------------------------------------------

    def store_name(self) -> str:
        return "the layer builder's blobs"

    def pushed_digests(self, ref: str, name: str) -> set[str]:
        return set()  # its push already sends only the blobs the registry lacks

    def push_to(self, ref: str, target: str, on_line: LoadLineSink) -> str:
        from kudev.oci.source import cluster_registry

        image, base = self._image(ref)
        return self._pusher.push(image, base, target, on_line, cluster_registry())

    def save_archive(self, ref: str) -> Iterator[bytes]:
        image, base = self._image(ref)
        scratch = tempfile.TemporaryDirectory(prefix="kudev-archive-")  # noqa: SIM115
        path = Path(scratch.name) / "image.tar"
        with path.open("wb") as out:
            write_archive(image, base, ref, out, self.cache)
        return _chunks_then_cleanup(path, scratch)

    # -- steps ---------------------------------------------------------------------------

    def _base(self, name: str) -> BaseImage:
        from kudev.oci.source import cluster_registry

        if name not in self._bases:
            self._bases[name] = resolve_base(name, self.base_registry, cluster_registry())
        return self._bases[name]

    def _capture(
        self, step: CopyStep | ConfigStep, context: BuildContext, tree: ImageTree
    ) -> _Captured:
        if isinstance(step, CopyStep):
            entries = copy_entries(step, context, tree)
        elif step.instruction.keyword == "WORKDIR" and not tree.is_dir(str(step.value)):
            entries = [Entry(str(step.value).strip("/"), "d", 0o755, 0, 0)]
        else:
            return _Captured(step)
        key = (
            cache_key(step, entries, context) if isinstance(step, CopyStep) else f"dir:{step.value}"
        )
        read = (
            None
            if key in self._layers
            else read_sources(entries, context, isinstance(step, CopyStep) and step.is_add)
        )
        for entry in entries:
            tree.add(entry.path, entry.kind, (read or {}).get(entry.source))
        return _Captured(step, key, tuple(entries), read)

    def _layer(self, item: _Captured) -> Layer | None:
        if not item.key:
            return None
        layer = self._layers.get(item.key)
        if layer is None:
            layer = layer_from_entries(list(item.entries), item.read or {})
        self._remember(self._layers, item.key, layer, KEPT_LAYERS)
        return layer

    def _image(self, ref: str) -> tuple[Assembled, BaseImage]:
        found = self._images.get(ref)
        if found is None:
            raise ClusterError(
                f"the layer builder has no image {ref} in this session",
                "build it first; kudev loads only images it built",
            )
        return found

    @staticmethod
    def _remember(table: OrderedDict, key: str, value: object, keep: int) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > keep:
            table.popitem(last=False)


def _chunks_then_cleanup(path: Path, scratch: tempfile.TemporaryDirectory[str]) -> Iterator[bytes]:
    try:
        yield from file_chunks(path)
    finally:
        scratch.cleanup()
