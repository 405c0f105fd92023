"""`.kudev.yaml` → frozen dataclasses. Errors point at file:line:column and the key.

The file format is the Go kudev's (apiVersion kudev.io/v1alpha1, kind DeploymentConfig) with
optional extensions under `spec`. Everything downstream reads only the dataclasses.

model: the dataclasses · spec: the format, as one table · schema: kudev.schema.json from it ·
marked_yaml: YAML that remembers positions · checks: a parsed file against the table ·
load: building the dataclasses and the API below.
"""

from kudev.config.load import InvalidConfig, find_config, load_config, validate_file
from kudev.config.model import (
    API_VERSION,
    CONFIG_NAMES,
    KIND,
    ArtifactSpec,
    ClusterSpec,
    Config,
    ImageSpec,
    KustomizeSpec,
    PortForwardSpec,
    WatchSpec,
)
from kudev.config.schema import SCHEMA_FILE, render_schema, schema_document

__all__ = [
    "API_VERSION",
    "CONFIG_NAMES",
    "KIND",
    "SCHEMA_FILE",
    "ArtifactSpec",
    "ClusterSpec",
    "Config",
    "ImageSpec",
    "InvalidConfig",
    "KustomizeSpec",
    "PortForwardSpec",
    "WatchSpec",
    "find_config",
    "load_config",
    "render_schema",
    "schema_document",
    "validate_file",
]
