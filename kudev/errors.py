"""Errors kudev reports to a person: each has a cause and a remedy, rendered once at the edge."""

from __future__ import annotations


class KudevError(Exception):
    """An error with a one-line cause and what the user can do about it."""

    retryable = False  # the engine tries again by itself (daemon or cluster back later)

    def __init__(self, cause: str, remedy: str = "", *, where: str = "") -> None:
        super().__init__(cause)
        self.cause = cause
        self.remedy = remedy
        self.where = where  # "file:line:col" when the error points into a file

    def render(self) -> str:
        head = f"{self.where}: {self.cause}" if self.where else self.cause
        return f"{head}\n  hint: {self.remedy}" if self.remedy else head


class ConfigError(KudevError):
    """The configuration file is invalid."""


class DockerUnavailable(KudevError):
    """The Docker Engine cannot be reached."""

    retryable = True


class BuildFailed(KudevError):
    """The image build ran and failed."""


class ClusterError(KudevError):
    """The cluster or the tool that loads images into it failed."""


class ClusterUnreachable(ClusterError):
    """The API server does not answer: kudev retries."""

    retryable = True
