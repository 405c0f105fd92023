"""Why a pod is not becoming ready, read from its status: a pure function over the API object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Waiting reasons that will not fix themselves without a change from the user.
FATAL_WAITING = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "CrashLoopBackOff",
}


@dataclass(frozen=True)
class Problem:
    container: str  # "" for pod-level problems (scheduling)
    reason: str
    message: str
    exit_code: int | None = None
    fatal: bool = True

    def summary(self, pod: str) -> str:
        where = f"{pod}/{self.container}" if self.container else pod
        code = f" (exit code {self.exit_code})" if self.exit_code is not None else ""
        return f"{where}: {self.reason}{code}: {self.message}".rstrip(": ")


def diagnose_pod(pod: Any) -> list[Problem]:
    """Problems visible in a V1Pod's status, most important first."""
    problems = _scheduling(pod)
    status = pod.status
    for cs in [*(status.init_container_statuses or []), *(status.container_statuses or [])]:
        problem = _container_problem(cs)
        if problem is not None:
            problems.append(problem)
    return problems


def _scheduling(pod: Any) -> list[Problem]:
    for cond in pod.status.conditions or []:
        if cond.type == "PodScheduled" and cond.status == "False" and cond.reason:
            return [Problem("", cond.reason, cond.message or "")]
    return []


def _container_problem(cs: Any) -> Problem | None:
    state, last = cs.state, cs.last_state
    if state and state.waiting and state.waiting.reason in FATAL_WAITING:
        reason, message = state.waiting.reason, state.waiting.message or ""
        term = last.terminated if last else None
        if reason == "CrashLoopBackOff" and term is not None:
            if term.reason == "OOMKilled":
                reason = "OOMKilled"
            message = f"last run ended: {term.reason or 'Error'}; {message}".rstrip("; ")
            return Problem(cs.name, reason, message, term.exit_code)
        return Problem(cs.name, reason, message)
    term = state.terminated if state else None
    if term is None and (cs.restart_count or 0) > 0 and last is not None:
        term = last.terminated  # running again, but it has crashed before
    if term is not None and term.exit_code not in (0, None):
        reason = term.reason or "Error"
        return Problem(cs.name, reason, term.message or "", term.exit_code, fatal=False)
    return None


def pod_phase(pod: Any) -> str:
    if pod.metadata.deletion_timestamp is not None:
        return "Terminating"
    return pod.status.phase or "Unknown"


def waiting_reason(pod: Any) -> str:
    problems = diagnose_pod(pod)
    if problems:
        return problems[0].reason
    for cs in pod.status.container_statuses or []:
        if cs.state and cs.state.waiting and cs.state.waiting.reason:
            return str(cs.state.waiting.reason)
    return ""
