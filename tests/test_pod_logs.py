"""One fetch of a crashed container's last lines, for the rollout diagnosis and the pod detail."""

from __future__ import annotations

from typing import Any

from kubernetes.client.exceptions import ApiException

from kudev.deploy.pod_logs import LAST_LOG_LINES, LOG_REQUEST_TIMEOUT_S, last_logs


class FakeCore:
    """read_namespaced_pod_log answering from `logs` (previous → text, or an exception)."""

    def __init__(self, logs: dict[bool, str | Exception]) -> None:
        self.logs = logs
        self.calls: list[dict[str, Any]] = []

    def read_namespaced_pod_log(self, pod: str, namespace: str, **kwargs: Any) -> str:
        self.calls.append({"pod": pod, "namespace": namespace, **kwargs})
        answer = self.logs[kwargs["previous"]]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_previous_logs_come_with_one_limit() -> None:
    core = FakeCore({True: "one\ntwo\n"})

    assert last_logs(core, "ns", "web-1", "app") == ("one", "two")
    assert core.calls == [
        {
            "pod": "web-1",
            "namespace": "ns",
            "container": "app",
            "previous": True,
            "tail_lines": LAST_LOG_LINES,
            "_request_timeout": LOG_REQUEST_TIMEOUT_S,
        }
    ]


def test_without_a_previous_container_the_pod_detail_gets_nothing() -> None:
    core = FakeCore({True: ApiException(status=400), False: "current"})

    assert last_logs(core, "ns", "web-1", "app") == ()
    assert [c["previous"] for c in core.calls] == [True]


def test_the_rollout_falls_back_to_the_current_container() -> None:
    for previous in (ApiException(status=400), ""):
        core = FakeCore({True: previous, False: "starting\ncrashed"})

        got = last_logs(core, "ns", "web-1", "app", fall_back_to_current=True)

        assert got == ("starting", "crashed")
        assert [c["previous"] for c in core.calls] == [True, False]


def test_at_most_the_limit_of_lines() -> None:
    text = "\n".join(f"line {i}" for i in range(50))
    core = FakeCore({True: text})

    assert last_logs(core, "ns", "p", "c") == tuple(f"line {i}" for i in range(30, 50))
