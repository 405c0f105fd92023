"""The live-update keys of .kudev.yaml: sync rules, run steps, restart, fallback, sync: infer."""

from __future__ import annotations

import textwrap
from pathlib import Path

from kudev.config.load import load_config, validate_file
from kudev.config.model import RunStep, SyncRule

HEAD = "apiVersion: kudev.io/v1alpha1\nkind: DeploymentConfig\nmetadata:\n  name: app\nspec:\n"
DOCKERFILE = "FROM busybox:1.36\nCOPY www/ /www/\nCOPY serve.sh /serve.sh\nCMD [sh, /serve.sh]\n"


def write(folder: Path, spec: str, dockerfile: str = DOCKERFILE) -> Path:
    (folder / "Dockerfile").write_text(dockerfile)
    (folder / "www").mkdir(exist_ok=True)
    path = folder / ".kudev.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(spec), "  "))
    return path


def test_sync_rules_run_steps_restart_and_fallback_load(tmp_path: Path) -> None:
    spec = """\
    sync:
      - {src: www, dest: /www, ignore: ["*.tmp"]}
    run:
      - cmd: touch /tmp/reloaded
        trigger: ["*.conf"]
      - cmd: [kill, -HUP, "1"]
    restart: container
    fallback: [requirements.txt]
    """
    live = load_config(write(tmp_path, spec)).image.live

    assert live.sync == (SyncRule("www", "/www", ("*.tmp",)),)
    assert live.run == (
        RunStep(("sh", "-c", "touch /tmp/reloaded"), ("*.conf",)),
        RunStep(("kill", "-HUP", "1")),
    )
    assert (live.restart, live.fallback) == ("container", ("requirements.txt",))


def test_a_relative_dest_is_reported_at_its_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "sync:\n  - src: www\n    dest: www\n")

    assert validate_file(path) == [
        f"{path}:8:13: spec.sync[0].dest: expected an absolute path in the container, got 'www'"
    ]


def test_a_src_outside_the_context_is_reported_at_its_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "sync:\n  - src: ../elsewhere\n    dest: /x\n")

    [problem] = validate_file(path)
    assert problem.startswith(f"{path}:7:12: spec.sync[0].src: '../elsewhere' lies outside")


def test_spec_level_sync_is_refused_next_to_images(tmp_path: Path) -> None:
    path = write(tmp_path, "images: [{name: app}]\nsync: [{src: www, dest: /www}]\n")

    [problem] = validate_file(path)
    assert "spec.sync: not allowed together with `images`" in problem


def test_sync_per_image(tmp_path: Path) -> None:
    path = write(tmp_path, "images:\n  - name: app\n    sync: [{src: www, dest: /srv/www}]\n")

    assert load_config(path).image.live.sync == (SyncRule("www", "/srv/www"),)


def test_a_restart_mode_kudev_does_not_know_is_refused(tmp_path: Path) -> None:
    [problem] = validate_file(write(tmp_path, "restart: pod\n"))

    assert "spec.restart: expected one of `never`, `container`" in problem


def test_sync_infer_maps_the_examples_copy_lines(tmp_path: Path) -> None:
    live = load_config(write(tmp_path, "sync: infer\n")).image.live

    assert live.inferred
    assert live.sync == (SyncRule("www", "/www"), SyncRule("serve.sh", "/serve.sh"))
    assert live.infer_notes == ()


def test_sync_infer_names_each_line_it_cannot_map_and_why(tmp_path: Path) -> None:
    dockerfile = (
        "FROM golang AS build\nCOPY . /src\nRUN go build -o /out .\n"
        "FROM busybox\nWORKDIR /app\nCOPY --from=build /out /bin/out\n"
        "COPY www conf.yaml ./\nADD https://example.com/x /x\nCOPY *.py /py/\n"
        "COPY $SRC /s\n"
    )
    (tmp_path / "conf.yaml").write_text("a: 1\n")
    live = load_config(write(tmp_path, "sync: infer\n", dockerfile)).image.live

    assert live.sync == (SyncRule("www", "/app"), SyncRule("conf.yaml", "/app/conf.yaml"))
    notes = "\n".join(live.infer_notes)
    assert (
        "Dockerfile:6: COPY --from=build /out /bin/out: not synced: it copies from another" in notes
    )
    assert "Dockerfile:8: ADD https://example.com/x /x: not synced: ADD fetches a URL" in notes
    assert "Dockerfile:9: COPY *.py /py/: not synced: its source is a wildcard" in notes
    assert "Dockerfile:10: COPY $SRC /s: not synced: it uses a variable" in notes


def test_sync_infer_reads_the_target_stage(tmp_path: Path) -> None:
    dockerfile = "FROM golang AS dev\nCOPY . /src\nFROM busybox\nCOPY www /www\n"
    spec = "images:\n  - name: app\n    target: dev\n    sync: infer\n"

    assert load_config(write(tmp_path, spec, dockerfile)).image.live.sync == (
        SyncRule(".", "/src"),
    )
