"""The words both front-ends use for a stage, a cycle and a change, so they say the same thing.

Each front-end adds its own frame: the headless printer a "[cycle]" prefix and milliseconds,
the dashboard's transcript hundredths of a second.
"""

from __future__ import annotations

from collections.abc import Sequence

from kudev import events as ev

CHANGED_SHOWN = 3  # paths a cycle's line names before "and N more"


def stage_outcome(event: ev.StageFinished) -> str:
    return "failed" if not event.ok else "skipped" if event.skipped else "done"


def stage_words(event: ev.StageFinished, decimals: int) -> str:
    """'build hello done in 2.31s: hello:kudev-1a2b3c4d', seconds to `decimals` places."""
    image = f" {event.image}" if event.image else ""
    detail = f": {event.detail}" if event.detail else ""
    took = f"{event.seconds:.{decimals}f}s"
    return f"{event.stage}{image} {stage_outcome(event)} in {took}{detail}"


def cycle_outcome(event: ev.CycleFinished) -> str:
    return "cancelled (newer change)" if event.cancelled else "ok" if event.ok else "FAILED"


def changed_words(paths: Sequence[str], total: int, shown: int = CHANGED_SHOWN) -> str:
    """'a, b, c and 2 more': the first `shown` paths of a change, and how many it leaves out."""
    first = ", ".join(paths[:shown])
    more = total - min(shown, len(paths))
    return f"{first} and {more} more" if more > 0 else first


def cycle_mode_words(mode: str, full_reason: str) -> str:
    """'sync', or 'full build: serve.sh is not under a sync rule'; '' for a plain build."""
    if mode == "sync":
        return "sync"
    return f"full build: {full_reason}" if full_reason else ""


def count_words(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def sync_figures_words(figures: dict[str, int]) -> str:
    """'3 files · 2 pods' from a sync stage's figures (deleted files count as files)."""
    files = figures.get("files", 0) + figures.get("deletes", 0)
    return f"{count_words(files, 'file')} · {count_words(figures.get('pods', 0), 'pod')}"


def pod_image_words(pod: ev.PodRow) -> str:
    """'kudev-1a2b3c4d', or with live update 'kudev-1a2b3c4d + 3 synced' ('…, behind' while
    its containers lack them)."""
    if pod.synced_files is None:
        return pod.image_tag
    behind = "" if pod.current else ", behind"
    if not pod.synced_files:
        return pod.image_tag + (" (behind)" if behind else "")
    return f"{pod.image_tag} + {pod.synced_files} synced{behind}"


def own_output_words(paths: Sequence[object]) -> str:
    """The notice for kudev's own stdout/stderr file(s) lying inside a build context."""
    names = ", ".join(str(p) for p in paths)
    return (
        f"leaving {names} out of the build context and the watch: it is kudev's own output "
        "(Docker would send it; add it to .dockerignore to make both agree)"
    )
