"""Stage timing, in one place: StageStarted, one clock, the cycle's `stages` total, StageFinished.

Every stage of a cycle (build and load per image in the engine, apply and ready in the
deployer) is timed the same way, so the dashboard's stage strip and the headless lines add up.
"""

from __future__ import annotations

import time
from types import TracebackType

from kudev import events as ev
from kudev.errors import KudevError

clock = time.monotonic  # one clock for every stage: never the wall clock, which can jump


class Stage:
    """One stage of one cycle, started on creation; ends once with done/skip/fail.

    As a context manager it ends the stage as failed when a KudevError leaves the block,
    and as done when the block ends without having ended it.
    """

    def __init__(
        self,
        emit: ev.EventSink,
        stages: dict[str, float],
        cycle: int,
        name: str,
        image: str = "",
    ) -> None:
        self._emit = emit
        self._stages = stages
        self.cycle = cycle
        self.name = name
        self.image = image
        self.finished = False
        emit(ev.StageStarted(cycle=cycle, stage=name, image=image))
        self._started = clock()

    def done(self, detail: str = "", figures: dict[str, int] | None = None) -> None:
        self._finish(ok=True, skipped=False, detail=detail, figures=figures)

    def skip(self, detail: str = "") -> None:
        self._finish(ok=True, skipped=True, detail=detail)

    def fail(self) -> None:
        self._finish(ok=False, skipped=False, detail="")

    def _finish(
        self, *, ok: bool, skipped: bool, detail: str, figures: dict[str, int] | None = None
    ) -> None:
        if self.finished:
            return
        self.finished = True
        seconds = clock() - self._started
        # Per image stages add up: the cycle's "build" is every image's build.
        self._stages[self.name] = self._stages.get(self.name, 0.0) + seconds
        self._emit(
            ev.StageFinished(
                cycle=self.cycle,
                stage=self.name,
                seconds=seconds,
                ok=ok,
                skipped=skipped,
                detail=detail,
                image=self.image,
                figures=dict(figures or {}),
            )
        )

    def __enter__(self) -> Stage:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if error is None:
            self.done()
        elif isinstance(error, KudevError):
            self.fail()
        # any other exception is a bug: it propagates with the stage left open, as it was
