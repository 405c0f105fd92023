"""What counts as rolled out: the new generation only, as the API server reports it."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from kudev.deploy.rollout import _progress


def deployment(generation, observed, desired=1, **status):
    fields = {
        "observed_generation": observed,
        "replicas": 0,
        "updated_replicas": 0,
        "ready_replicas": 0,
        "available_replicas": 0,
    } | status
    return NS(metadata=NS(generation=generation), spec=NS(replicas=desired), status=NS(**fields))


def test_the_old_pod_does_not_count_before_the_controller_sees_the_new_generation():
    # Right after apply: generation 3, status still about generation 2's ready pod.
    obj = deployment(3, 2, replicas=1, updated_replicas=1, ready_replicas=1, available_replicas=1)
    assert _progress("Deployment", obj) == (0, 1, False)


def test_a_surging_rollout_counts_only_new_ready_pods():
    # Old pod ready, new pod created but not ready: 2 pods, 1 updated, 1 ready (the old one).
    obj = deployment(3, 3, updated_replicas=1, replicas=2, ready_replicas=1, available_replicas=1)
    assert _progress("Deployment", obj) == (0, 1, False)


def test_new_pod_ready_while_the_old_one_is_still_counted_is_not_done():
    obj = deployment(3, 3, updated_replicas=1, replicas=2, ready_replicas=2, available_replicas=2)
    assert _progress("Deployment", obj) == (1, 1, False)


def test_rolled_out_when_only_new_pods_remain_and_are_available():
    obj = deployment(3, 3, updated_replicas=1, replicas=1, ready_replicas=1, available_replicas=1)
    assert _progress("Deployment", obj) == (1, 1, True)


@pytest.mark.parametrize(
    ("observed", "updated", "ready", "expected"),
    [(1, 2, 2, (0, 2, False)), (2, 1, 2, (1, 2, False)), (2, 2, 2, (2, 2, True))],
)
def test_daemonset_counts_updated_ready_pods(observed, updated, ready, expected):
    obj = NS(
        metadata=NS(generation=2),
        spec=NS(),
        status=NS(
            observed_generation=observed,
            desired_number_scheduled=2,
            updated_number_scheduled=updated,
            number_ready=ready,
        ),
    )
    assert _progress("DaemonSet", obj) == expected


def test_statefulset_waits_for_the_update_revision():
    status = NS(
        observed_generation=2,
        updated_replicas=1,
        ready_replicas=1,
        current_revision="a",
        update_revision="b",
    )
    obj = NS(metadata=NS(generation=2), spec=NS(replicas=1), status=status)
    assert _progress("StatefulSet", obj) == (1, 1, False)
    status.current_revision = "b"
    assert _progress("StatefulSet", obj) == (1, 1, True)
