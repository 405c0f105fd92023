"""Re-apply bookkeeping (deploy/live/synced.py): which containers lack the synced set."""

from __future__ import annotations

from kudev.deploy.live.sync_job import Sync, SyncedFile
from kudev.deploy.live.synced import RunningContainer, SyncedState

BASE = "localhost:5000/hello:kudev-1a2b3c4d"
INDEX = SyncedFile("www/index.html", "/www/index.html")
OLD = SyncedFile("www/old.html", "/www/old.html")


def container(pod: str = "hello-1", cid: str = "containerd://a", image: str = BASE):
    return RunningContainer(pod=pod, container="hello", container_id=cid, image=image)


def synced_once(*targets: RunningContainer) -> SyncedState:
    state = SyncedState(BASE)
    state.mark(targets, state.record(Sync(files=(INDEX,), deletes=(OLD,))))
    return state


def test_a_container_that_got_the_sync_is_current():
    first = container()
    state = synced_once(first)

    assert state.behind([first]) == []


def test_a_restarted_container_is_behind_until_re_applied():
    state = synced_once(container(cid="containerd://a"))
    restarted = container(cid="containerd://b")

    assert state.behind([restarted]) == [restarted]
    state.mark([restarted], state.generation)
    assert state.behind([restarted]) == []


def test_a_new_pod_of_the_base_image_is_behind_and_gets_everything():
    state = synced_once(container("hello-1"))
    scaled_up = container("hello-2", "containerd://c")

    assert state.behind([scaled_up]) == [scaled_up]
    assert state.as_sync() == Sync(files=(INDEX,), deletes=(OLD,))


def test_a_container_that_missed_a_later_sync_is_behind():
    one, two = container("hello-1"), container("hello-2", "containerd://c")
    state = synced_once(one, two)
    state.mark([one], state.record(Sync(files=(SyncedFile("www/b", "/www/b"),))))

    assert state.behind([one, two]) == [two]


def test_a_pod_of_another_image_is_never_re_applied_and_blocks_a_sync():
    state = synced_once(container())
    other = container("hello-9", "containerd://z", image="localhost:5000/hello:kudev-99999999")

    assert state.behind([other]) == []
    assert state.behind_reason([container(), other]) == (
        "pod hello-9 runs kudev-99999999, not the last full build"
    )


def test_with_nothing_synced_every_container_of_the_image_is_current():
    state = SyncedState(BASE)

    assert state.behind([container()]) == []
    assert state.behind_reason([container()]) == ""


def test_a_full_build_starts_afresh():
    state = synced_once(container())
    state.reset("localhost:5000/hello:kudev-22222222")

    assert state.count == 0 and state.generation == 0
    assert state.behind_reason([container()]) == (
        "pod hello-1 runs kudev-1a2b3c4d, not the last full build"
    )


def test_a_later_change_to_a_path_replaces_its_earlier_fate():
    state = synced_once(container())
    state.record(Sync(files=(OLD,)))  # re-created after its deletion

    assert state.as_sync() == Sync(files=(INDEX, OLD))


def test_docker_hub_names_match_their_short_form():
    state = SyncedState("hello:kudev-1a2b3c4d")

    assert state.runs_base(container(image="docker.io/library/hello:kudev-1a2b3c4d"))
