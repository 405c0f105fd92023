"""A project: its configuration plus the build contexts of its images."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kudev.config import CONFIG_NAMES, Config, ImageSpec
from kudev.errors import ConfigError
from kudev.sources.context import BuildContext
from kudev.sources.digest_cache import default_cache_dir
from kudev.sources.readers import StopFlag


@dataclass(frozen=True)
class Project:
    config: Config
    cache_dir: Path
    # kudev's own stdout/stderr files (kudev/own_output.py): never hashed, built or watched.
    own_output: tuple[Path, ...] = ()

    def image(self, name: str | None = None) -> ImageSpec:
        if name is None:
            return self.config.image
        for image in self.config.images:
            if image.name == name:
                return image
        names = ", ".join(i.name for i in self.config.images)
        raise ConfigError(f"no image named {name!r}", f"configured images: {names}")

    def context_for(self, name: str | None = None) -> BuildContext:
        return build_context(self.image(name), self.cache_dir, self.own_output)


def build_context(
    image: ImageSpec,
    cache_dir: Path | None,
    left_out: Iterable[Path] = (),
    stop: StopFlag | None = None,
) -> BuildContext:
    return BuildContext(
        image.context,
        image.dockerfile,
        extra_exclusions=image.exclusions,
        build_args=image.build_args,
        target=image.target,
        cache_dir=cache_dir,
        left_out=left_out,
        stop=stop,
    )


def load_project(
    folder: Path, config_file: str | None = None, own_output: Iterable[Path] = ()
) -> Project:
    """The project in `folder`; without a config, a Dockerfile there is enough for `hash`."""
    from kudev.config import find_config, load_config

    folder = folder.resolve()
    if config_file:
        config = load_config(Path(config_file).resolve(), folder)
    elif any((folder / n).exists() for n in CONFIG_NAMES) or not (folder / "Dockerfile").exists():
        config = load_config(find_config(folder), folder)
    else:
        config = implicit_config(folder)
    return Project(config=config, cache_dir=default_cache_dir(), own_output=tuple(own_output))


def implicit_config(folder: Path) -> Config:
    """What a bare folder with a Dockerfile means: one image named after the folder."""
    name = re.sub(r"[^a-z0-9-]+", "-", folder.name.lower()).strip("-") or "app"
    image = ImageSpec(name=name, context=folder, dockerfile=folder / "Dockerfile")
    return Config(path=folder / CONFIG_NAMES[0], root=folder, name=name, images=(image,))
