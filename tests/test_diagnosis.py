"""Pod diagnosis from the kubernetes client's own V1Pod models, as the API returns them."""

from __future__ import annotations

from kubernetes import client as k

from kudev.deploy.diagnosis import diagnose_pod, pod_phase, waiting_reason


def pod(*statuses, conditions=None, phase="Pending", deleting=False) -> k.V1Pod:
    return k.V1Pod(
        metadata=k.V1ObjectMeta(
            name="app-1", deletion_timestamp="2026-01-01" if deleting else None
        ),
        status=k.V1PodStatus(phase=phase, container_statuses=list(statuses), conditions=conditions),
    )


def status(waiting=None, message="", last=None, terminated=None, name="app") -> k.V1ContainerStatus:
    state = k.V1ContainerState(
        waiting=k.V1ContainerStateWaiting(reason=waiting, message=message) if waiting else None,
        terminated=terminated,
    )
    last_state = k.V1ContainerState(terminated=last) if last else None
    return k.V1ContainerStatus(
        name=name,
        image="x",
        image_id="",
        ready=False,
        restart_count=3,
        state=state,
        last_state=last_state,
    )


def test_crash_loop_carries_exit_code_and_reason():
    last = k.V1ContainerStateTerminated(exit_code=1, reason="Error")
    [problem] = diagnose_pod(pod(status("CrashLoopBackOff", "back-off 20s", last=last)))
    assert (problem.reason, problem.exit_code, problem.fatal) == ("CrashLoopBackOff", 1, True)
    assert "last run ended: Error" in problem.message


def test_crash_loop_after_oom_is_reported_as_oom():
    last = k.V1ContainerStateTerminated(exit_code=137, reason="OOMKilled")
    [problem] = diagnose_pod(pod(status("CrashLoopBackOff", last=last)))
    assert problem.reason == "OOMKilled" and problem.exit_code == 137


def test_image_pull_failure_names_the_message():
    [problem] = diagnose_pod(pod(status("ImagePullBackOff", 'Back-off pulling image "nope:1"')))
    assert problem.reason == "ImagePullBackOff" and "nope:1" in problem.message
    assert problem.summary("app-1") == (
        'app-1/app: ImagePullBackOff: Back-off pulling image "nope:1"'
    )


def test_unschedulable_is_a_pod_level_problem():
    cond = k.V1PodCondition(
        type="PodScheduled",
        status="False",
        reason="Unschedulable",
        message="0/1 nodes are available: node(s) didn't match selector",
    )
    [problem] = diagnose_pod(pod(conditions=[cond]))
    assert problem.container == "" and problem.reason == "Unschedulable"


def test_a_first_crash_is_reported_but_not_yet_fatal():
    terminated = k.V1ContainerStateTerminated(exit_code=2, reason="Error")
    [problem] = diagnose_pod(pod(status(terminated=terminated)))
    assert problem.exit_code == 2 and not problem.fatal


def test_healthy_and_starting_pods_have_no_problems():
    assert diagnose_pod(pod(status("ContainerCreating"))) == []
    assert waiting_reason(pod(status("ContainerCreating"))) == "ContainerCreating"


def test_terminating_pods_say_so():
    assert pod_phase(pod(phase="Running", deleting=True)) == "Terminating"


def test_a_container_running_again_after_a_crash_still_shows_the_crash():
    last = k.V1ContainerStateTerminated(exit_code=137, reason="OOMKilled")
    restarted = k.V1ContainerStatus(
        name="app",
        image="x",
        image_id="",
        ready=True,
        restart_count=1,
        state=k.V1ContainerState(running=k.V1ContainerStateRunning()),
        last_state=k.V1ContainerState(terminated=last),
    )
    [problem] = diagnose_pod(pod(restarted, phase="Running"))
    assert (problem.reason, problem.exit_code, problem.fatal) == ("OOMKilled", 137, False)
