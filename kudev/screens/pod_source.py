"""The pod detail screen's data hook; it lives in the core (kudev.pod_details)."""

from kudev.pod_details import ContainerState, PodDetail, PodDetailSource, PodEvent

__all__ = ["ContainerState", "PodDetail", "PodDetailSource", "PodEvent"]
