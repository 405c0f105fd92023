"""The engine's choice between a sync cycle and a full build, over faked seams (no cluster)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from kudev import events as ev
from kudev.config import Config, ImageSpec
from kudev.config.model import LiveUpdateSpec, RunStep, SyncRule
from kudev.deploy.live.sync import NoSyncTools, SyncFailed
from kudev.deploy.live.sync_job import SyncedFile
from kudev.project import Project
from kudev.session import SessionOptions
from tests.enginefakes import Fakes
from tests.enginelib import RunningEngine

LIVE = LiveUpdateSpec(
    sync=(SyncRule("www", "/www"),),
    fallback=("requirements.txt",),
    run=(RunStep(("sh", "-c", "reload")),),
)


def hello(root: Path, live: LiveUpdateSpec = LIVE) -> Project:
    (root / "www").mkdir(parents=True)
    (root / "www" / "index.html").write_text("v1\n")
    (root / "serve.sh").write_text("httpd\n")
    (root / "requirements.txt").write_text("flask\n")
    (root / "Dockerfile").write_text("FROM busybox\nCOPY . /\n")
    image = ImageSpec(name="hello", context=root, dockerfile=root / "Dockerfile", live=live)
    config = Config(path=root / ".kudev.yaml", root=root, name="hello", images=(image,))
    return Project(config=config, cache_dir=root.parent / "cache")


def edit(fakes: Fakes, root: Path, rel: str, text: str | None = None) -> None:
    path = root / rel
    if text is None:
        path.unlink()
    else:
        path.write_text(text)
    fakes.changes.send(path)


def started(fakes: Fakes, cycle: int) -> ev.CycleStarted:
    return next(e for e in fakes.log.of(ev.CycleStarted) if e.cycle == cycle)


def test_a_save_under_a_rule_is_synced_without_a_build(tmp_path):
    root = tmp_path / "hello"
    fakes = Fakes()
    with RunningEngine(fakes.engine(hello(root))):
        assert fakes.log.cycle_finished(1).ok
        edit(fakes, root, "www/index.html", "v2\n")
        finished = fakes.log.cycle_finished(2)
    assert finished.ok and set(finished.stages) == {"hash", "sync"}
    assert started(fakes, 2).mode == "sync"
    assert len(fakes.builder.built) == 1 and len(fakes.deployer.deploys) == 1
    [(cycle, plan)] = fakes.deployer.syncs
    assert cycle == 2 and plan.files == (SyncedFile("www/index.html", "/www/index.html"),)
    assert plan.runs == LIVE.run
    sync = next(e for e in fakes.log.of(ev.StageFinished) if e.stage == "sync")
    assert sync.detail == "1 file · 1 pod" and sync.figures["files"] == 1


def test_a_deleted_file_is_synced_as_a_deletion(tmp_path):
    root = tmp_path / "hello"
    fakes = Fakes()
    project = hello(root)
    (root / "www" / "old.html").write_text("old\n")
    with RunningEngine(fakes.engine(project)):
        assert fakes.log.cycle_finished(1).ok
        edit(fakes, root, "www/old.html")
        assert fakes.log.cycle_finished(2).ok
    [(_, plan)] = fakes.deployer.syncs
    assert plan.deletes == (SyncedFile("www/old.html", "/www/old.html"),) and not plan.files


def test_a_file_no_rule_covers_builds_and_says_why(tmp_path):
    root = tmp_path / "hello"
    fakes = Fakes()
    with RunningEngine(fakes.engine(hello(root))):
        assert fakes.log.cycle_finished(1).ok
        edit(fakes, root, "serve.sh", "httpd -v\n")
        assert fakes.log.cycle_finished(2).ok
    assert started(fakes, 2).mode == "build"
    assert started(fakes, 2).full_reason == "serve.sh is not under a sync rule"
    assert len(fakes.builder.built) == 2 and not fakes.deployer.syncs


def test_a_fallback_match_builds(tmp_path):
    root = tmp_path / "hello"
    fakes = Fakes()
    with RunningEngine(fakes.engine(hello(root, replace(LIVE, sync=(SyncRule(".", "/"),))))):
        assert fakes.log.cycle_finished(1).ok
        edit(fakes, root, "requirements.txt", "flask==3\n")
        assert fakes.log.cycle_finished(2).ok
    assert started(fakes, 2).full_reason == "requirements.txt matches fallback"


def test_r_and_no_sync_force_a_full_build(tmp_path):
    root = tmp_path / "hello"
    fakes = Fakes()
    engine = fakes.engine(hello(root))
    with RunningEngine(engine):
        assert fakes.log.cycle_finished(1).ok
        engine.request_rebuild()
        assert fakes.log.cycle_finished(2).ok
    assert started(fakes, 2).full_reason == "a rebuild was requested (r)"

    other = Fakes()
    with RunningEngine(other.engine(hello(tmp_path / "again"), SessionOptions(live_sync=False))):
        assert other.log.cycle_finished(1).ok
        edit(other, tmp_path / "again", "www/index.html", "v2\n")
        assert other.log.cycle_finished(2).ok
    assert started(other, 2).mode == "build" and not other.deployer.syncs


def test_pods_on_another_image_build(tmp_path):
    root = tmp_path / "hello"
    fakes = Fakes()
    with RunningEngine(fakes.engine(hello(root))):
        assert fakes.log.cycle_finished(1).ok
        fakes.deployer.blocker = "pod hello-1 runs kudev-0ld, not the last full build"
        edit(fakes, root, "www/index.html", "v2\n")
        assert fakes.log.cycle_finished(2).ok
    assert started(fakes, 2).full_reason.startswith("pod hello-1 runs kudev-0ld")


def test_a_failed_sync_is_followed_by_a_full_build(tmp_path):
    root = tmp_path / "hello"
    fakes = Fakes()
    with RunningEngine(fakes.engine(hello(root))):
        assert fakes.log.cycle_finished(1).ok
        fakes.deployer.sync_failures.append(SyncFailed("exec refused (fake)", ""))
        edit(fakes, root, "www/index.html", "v2\n")
        assert not fakes.log.cycle_finished(2).ok
        assert fakes.log.cycle_finished(3).ok
    error = next(e for e in fakes.log.of(ev.ErrorReported) if e.cycle == 2)
    assert error.cause == "exec refused (fake)"
    assert started(fakes, 3).reason == "full"
    assert started(fakes, 3).full_reason == "the last sync failed (exec refused (fake))"
    assert len(fakes.builder.built) == 2


def test_an_image_without_tar_is_said_once_and_builds_from_then_on(tmp_path):
    root = tmp_path / "hello"
    fakes = Fakes()
    with RunningEngine(fakes.engine(hello(root))):
        assert fakes.log.cycle_finished(1).ok
        fakes.deployer.sync_failures.append(NoSyncTools("no tar in hello (fake)", "add it"))
        edit(fakes, root, "www/index.html", "v2\n")
        assert fakes.log.cycle_finished(3).ok
        edit(fakes, root, "www/index.html", "v3\n")
        assert fakes.log.cycle_finished(4).ok
    assert [e.cause for e in fakes.log.of(ev.ErrorReported)] == ["no tar in hello (fake)"]
    assert started(fakes, 4).full_reason == "image hello has no tar or sh for live update"


def test_a_new_session_on_synced_pods_reuses_the_image_and_sends_the_initial_sync(tmp_path):
    # Everything the image lacks is sent, synced before or not: a container may have
    # restarted while kudev was away, and lost what was synced into it.
    root = tmp_path / "hello"
    project = hello(root)
    first = Fakes()
    with RunningEngine(first.engine(project)):
        assert first.log.cycle_finished(1).ok
        edit(first, root, "www/index.html", "v2\n")
        assert first.log.cycle_finished(2).ok
    (root / "www" / "new.html").write_text("written while kudev was away\n")

    second = Fakes()
    second.builder.images |= first.builder.images  # the first session's image is still there
    with RunningEngine(second.engine(project)):
        assert second.log.cycle_finished(1).ok
    assert second.builder.built == []
    build = next(e for e in second.log.of(ev.StageFinished) if e.stage == "build")
    assert build.skipped and build.detail.startswith(f"reusing {first.builder.built[0]}")
    [(cycle, plan)] = second.deployer.syncs
    assert cycle == 1
    assert {f.rel for f in plan.files} == {"www/index.html", "www/new.html"}


def test_a_sync_cut_short_by_a_stop_is_a_cancelled_cycle_not_an_error(tmp_path):
    root = tmp_path / "hello"
    fakes = Fakes()
    engine = fakes.engine(hello(root))
    with RunningEngine(engine):
        assert fakes.log.cycle_finished(1).ok

        def cut_by_the_stop(image, plan, cycle):  # the syncer's cutoff closed its streams
            engine.stop()
            raise SyncFailed("the receiver in hello-1/app broke (closed)", "")

        fakes.deployer.sync = cut_by_the_stop  # type: ignore[method-assign]
        edit(fakes, root, "www/index.html", "v2\n")
        finished = fakes.log.cycle_finished(2)
    assert finished.cancelled and not finished.ok
    assert [e for e in fakes.log.of(ev.ErrorReported) if e.cycle == 2] == []
    assert not [e for e in fakes.log.of(ev.CycleStarted) if e.cycle == 3], "it went on"
