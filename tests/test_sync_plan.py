"""Sync cycle or full build (engine/sync_plan.py): a pure function, no Docker, no cluster."""

from __future__ import annotations

from kudev.config.model import LiveUpdateSpec, RunStep, SyncRule
from kudev.deploy.live.sync_job import Sync, SyncedFile
from kudev.engine.sync_plan import ChangedPath, FullBuild, decide, destination

WWW = LiveUpdateSpec(sync=(SyncRule("www", "/www"),))


def changed(*rels: str, deleted: tuple[str, ...] = ()) -> list[ChangedPath]:
    return [ChangedPath(r, True) for r in rels] + [ChangedPath(r, False) for r in deleted]


def test_an_edit_under_a_rule_is_a_sync_to_its_destination():
    plan = decide(changed("www/a/b.html"), WWW, dockerfile_rel="Dockerfile")

    assert plan == Sync(files=(SyncedFile("www/a/b.html", "/www/a/b.html"),))


def test_a_deleted_file_is_deleted_in_the_container():
    plan = decide(changed(deleted=("www/old.html",)), WWW, dockerfile_rel="Dockerfile")

    assert plan == Sync(deletes=(SyncedFile("www/old.html", "/www/old.html"),))


def test_a_path_no_rule_covers_is_a_full_build_that_names_it():
    plan = decide(changed("www/index.html", "serve.sh"), WWW, dockerfile_rel="Dockerfile")

    assert plan == FullBuild("serve.sh is not under a sync rule")


def test_a_fallback_match_is_a_full_build_even_under_a_rule():
    live = LiveUpdateSpec(sync=(SyncRule(".", "/app"),), fallback=("requirements.txt",))

    plan = decide(changed("requirements.txt", "app.py"), live, dockerfile_rel="Dockerfile")

    assert plan == FullBuild("requirements.txt matches fallback")


def test_fallback_speaks_dockerignore_patterns():
    live = LiveUpdateSpec(sync=(SyncRule(".", "/app"),), fallback=("**/package.json",))

    assert decide(changed("web/package.json"), live, dockerfile_rel=None) == FullBuild(
        "web/package.json matches fallback"
    )
    assert isinstance(decide(changed("web/index.js"), live, dockerfile_rel=None), Sync)


def test_the_dockerfile_and_dockerignore_always_build():
    live = LiveUpdateSpec(sync=(SyncRule(".", "/app"),))

    assert decide(changed("Dockerfile"), live, dockerfile_rel="Dockerfile") == FullBuild(
        "Dockerfile changes the build itself"
    )
    assert decide(changed(".dockerignore"), live, dockerfile_rel=None) == FullBuild(
        ".dockerignore changes the build itself"
    )


def test_pods_on_another_image_mean_a_full_build():
    plan = decide(
        changed("www/index.html"),
        WWW,
        dockerfile_rel="Dockerfile",
        pods_behind="pod hello-1 runs kudev-0ld, not the last full build",
    )

    assert plan == FullBuild("pod hello-1 runs kudev-0ld, not the last full build")


def test_no_rules_means_no_sync():
    assert decide(changed("www/a"), LiveUpdateSpec(), dockerfile_rel=None) == FullBuild(
        "no sync rules"
    )


def test_a_rule_ignore_is_relative_to_its_src():
    live = LiveUpdateSpec(sync=(SyncRule("www", "/www", ignore=("*.tmp",)),))

    assert decide(changed("www/x.tmp"), live, dockerfile_rel=None) == FullBuild(
        "www/x.tmp is not under a sync rule"
    )


def test_a_file_rule_and_the_whole_context_rule_map_as_docker_copies():
    rules = (SyncRule("serve.sh", "/serve.sh"), SyncRule(".", "/app"))

    assert destination("serve.sh", rules) == "/serve.sh"
    assert destination("src/main.py", rules) == "/app/src/main.py"
    assert destination("wwwx/a", (SyncRule("www", "/www"),)) is None


def test_run_steps_run_only_when_their_trigger_matches():
    conf = RunStep(("sh", "-c", "reload"), trigger=("conf/*.conf",))
    always = RunStep(("sh", "-c", "touch /tmp/synced"))
    live = LiveUpdateSpec(sync=(SyncRule(".", "/app"),), run=(conf, always))

    html = decide(changed("www/index.html"), live, dockerfile_rel=None)
    nginx = decide(changed("conf/site.conf"), live, dockerfile_rel=None)

    assert isinstance(html, Sync) and html.runs == (always,)
    assert isinstance(nginx, Sync) and nginx.runs == (conf, always)
