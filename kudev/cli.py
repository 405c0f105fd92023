"""Command line: parses arguments and hands over to a front-end or a subcommand.

Imports are lazy so that `kudev --help` answers without loading docker, kubernetes or textual.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING

from kudev import exit_codes

if TYPE_CHECKING:
    from datetime import datetime

    from kudev.config import Config
    from kudev.project import Project
    from kudev.sources.context import BuildContext

VERSION = "0.1.0"


def _add_common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "-C", dest="directory", metavar="DIR", default=default, help="run as if started in DIR"
    )
    parser.add_argument(
        "-f",
        "--file",
        dest="config_file",
        metavar="FILE",
        default=default,
        help="config file (default: .kudev.yaml in DIR)",
    )
    parser.add_argument(
        "--context",
        dest="kube_context",
        metavar="CTX",
        default=default,
        help="kube context to use (default: the current one)",
    )
    parser.add_argument(
        "--namespace",
        "-n",
        metavar="NS",
        default=default,
        help="namespace to deploy into (overrides the config)",
    )
    parser.add_argument(
        "--kubeconfig",
        metavar="FILE",
        default=default,
        help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kudev",
        description="Edit code, see it running in your local cluster. "
        "Without a command, opens the dashboard.",
    )
    _add_common(parser, suppress=False)
    parser.add_argument(
        "--headless", action="store_true", help="no dashboard: print events to stdout"
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="run one cycle and exit with its result (implies --headless)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print events as JSON lines (implies --headless)"
    )
    parser.add_argument(
        "--build-timestamp",
        action="store_true",
        help="add a UTC timestamp to the tag so every build is unique",
    )
    parser.add_argument(
        "--cleanup",
        action="store_true",
        help="on exit (Ctrl-C), delete what kudev applied; default: leave the app running",
    )
    parser.add_argument(
        "--no-sync",
        action="store_true",
        help="ignore the live-update `sync` rules: every change is a full build",
    )
    parser.add_argument(
        "--build-only",
        action="store_true",
        help="build images but do not load or deploy them (no cluster needed)",
    )
    parser.add_argument(
        "--allow-context",
        action="append",
        default=[],
        metavar="CTX",
        help="allow deploying to this non-local context (repeatable)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        _add_common(p, suppress=True)
        return p

    p = command("init", "write a .kudev.yaml for the Dockerfile in this folder")
    p.add_argument("--force", action="store_true", help="overwrite an existing .kudev.yaml")
    p = command("validate", "check a config file and report every problem")
    p.add_argument("path", nargs="?", help="the file (default: .kudev.yaml)")
    p = command("hash", "print the image tag the current sources give")
    p.add_argument("--files", action="store_true", help="list the exact build-context files")
    p.add_argument("--image", metavar="NAME", help="which image (default: the first)")
    p.add_argument("--build-timestamp", action="store_true", help="add a UTC timestamp")
    command("doctor", "check Docker, the kube context, the cluster and loader tools")
    command("version", "print kudev's version")
    command("down", "delete exactly what kudev applied for this project")
    p = command(
        "publish",
        "build, push the images by digest and push the rendered manifests as one OCI "
        "artifact (Flux's format); prints only HOST/REPO@sha256:… on stdout",
    )
    p.add_argument(
        "--to",
        metavar="oci://HOST/REPO[:TAG]",
        help="where to push (default: the cluster's registry, <name>-manifests, the kudev tag)",
    )
    p.add_argument("--build-timestamp", action="store_true", help="add a UTC timestamp")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.directory:
        os.chdir(args.directory)
    from kudev.errors import KudevError

    try:
        return _dispatch(args)
    except KudevError as err:
        print(f"kudev: {err.render()}", file=sys.stderr)
        return exit_codes.USAGE if _is_config_error(err) else exit_codes.FAILED
    except KeyboardInterrupt:
        return exit_codes.INTERRUPTED


def _is_config_error(err: Exception) -> bool:
    from kudev.errors import ConfigError

    return isinstance(err, ConfigError)


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command
    if command == "version":
        print(f"kudev {VERSION}")
        return exit_codes.OK
    if command == "init":
        return _init(args)
    if command == "validate":
        return _validate(args)
    if command == "hash":
        return _hash(args)
    if command == "doctor":
        return _doctor(args)
    if command == "down":
        return _down(args)
    if command == "publish":
        return _publish(args)
    return _run(args)


def _doctor(args: argparse.Namespace) -> int:
    from kudev.doctor import run_doctor
    from kudev.errors import ConfigError
    from kudev.project import load_project

    try:
        config = load_project(Path.cwd(), args.config_file).config
    except ConfigError:
        config = None  # doctor still checks Docker and the cluster without a config
    return run_doctor(
        kubeconfig=args.kubeconfig,
        context=args.kube_context,
        cluster=config.cluster if config else None,
        images=config.images if config else (),
    )


def _down(args: argparse.Namespace) -> int:
    from kudev.cluster.delivery import check_context_allowed
    from kudev.cluster.detect import api_client_for, cluster_from_kubeconfig
    from kudev.deploy.apply import Applier
    from kudev.project import load_project

    config = load_project(Path.cwd(), args.config_file).config
    context = args.kube_context or config.kube_context or None
    info = cluster_from_kubeconfig(args.kubeconfig, context, config.cluster)
    check_context_allowed(info, config, tuple(getattr(args, "allow_context", ()) or ()))
    namespace = args.namespace or config.namespace
    applier = Applier(api_client_for(args.kubeconfig, info.context), config.name, namespace)
    deleted = applier.down()
    for ref in deleted:
        print(f"deleted {ref}")
    print(f"kudev down: {len(deleted)} objects deleted from {info.context}/{namespace}")
    return exit_codes.OK


def _publish(args: argparse.Namespace) -> int:
    from kudev.project import load_project
    from kudev.publish import run_publish
    from kudev.session import SessionOptions

    project = load_project(Path.cwd(), args.config_file)
    options = SessionOptions(
        build_timestamp=args.build_timestamp,
        kube_context=args.kube_context,
        kubeconfig=args.kubeconfig,
    )
    # stdout carries only the artifact reference: `kudev publish | xargs …` composes.
    return run_publish(project, options, args.to, out=sys.stdout, log=sys.stderr)


def _init(args: argparse.Namespace) -> int:
    from kudev.scaffold import write_initial_config

    path = write_initial_config(Path.cwd(), force=args.force)
    print(f"wrote {path}; next: `kudev validate`, then `kudev`")
    return exit_codes.OK


def _validate(args: argparse.Namespace) -> int:
    from kudev.config import find_config, load_config, validate_file

    path = Path(args.path or args.config_file or find_config(Path.cwd()))
    problems = validate_file(path)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return exit_codes.USAGE
    print(f"{path}: ok")
    _print_live_update(load_config(path))
    return exit_codes.OK


def _print_live_update(config: Config) -> None:
    """What `sync` means for each image, inferred rules and the lines infer left out."""
    for image in config.images:
        live = image.live
        how = " (inferred from the Dockerfile)" if live.inferred else ""
        for rule in live.sync:
            print(f"{image.name}: sync {rule.src} → {rule.dest}{how}")
        for note in live.infer_notes:
            print(f"{image.name}: note: {note}")


def _hash(args: argparse.Namespace) -> int:
    from kudev.own_output import inside, own_output_files
    from kudev.project import load_project
    from kudev.wording import own_output_words

    project = load_project(Path.cwd(), args.config_file, own_output_files())
    ctx = project.context_for(args.image)
    left_out = inside(project.own_output, [ctx.root])
    if left_out:
        print(f"kudev: {own_output_words(left_out)}", file=sys.stderr)
    ctx.scan()
    ctx.cache.save()
    if args.files:
        for rel in ctx.files():
            print(rel)
        return exit_codes.OK
    print(_tag(project, args.image, ctx, _utc_now() if args.build_timestamp else None))
    return exit_codes.OK


def _tag(project: Project, image: str | None, ctx: BuildContext, timestamp: datetime | None) -> str:
    """The tag the engine would build: an image FROM another project image folds its tag."""
    from kudev.build.image_graph import ImageGraph, tag_from_sources

    name = project.image(image).name

    def digest_of(other: str) -> str:
        if other == name:
            return ctx.digest()
        upstream = project.context_for(other)
        upstream.scan()
        upstream.cache.save()
        return upstream.digest()

    graph = ImageGraph.of(project.config.images)
    return tag_from_sources(graph, name, digest_of, timestamp)


def _utc_now():  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.now(UTC)


def _run(args: argparse.Namespace) -> int:
    headless = args.headless or args.once or args.json
    if not headless and not sys.stdout.isatty():
        print(
            "kudev: the dashboard needs a terminal; use `kudev --headless` "
            "(add --json for machine-readable events)",
            file=sys.stderr,
        )
        return exit_codes.USAGE
    from kudev.own_output import own_output_files
    from kudev.project import load_project
    from kudev.session import SessionOptions

    project = load_project(Path.cwd(), args.config_file, own_output_files())
    options = SessionOptions(
        once=args.once,
        build_timestamp=args.build_timestamp,
        kube_context=args.kube_context,
        kubeconfig=args.kubeconfig,
        namespace=args.namespace,
        allow_contexts=tuple(args.allow_context),
        load_images=not args.build_only,
        cleanup=args.cleanup,
        live_sync=not args.no_sync,
    )
    if headless:
        from kudev.headless import run_headless

        return run_headless(project, options, json_lines=args.json)
    from kudev.app import run_dashboard

    return run_dashboard(project, options)


def entry() -> None:
    sys.exit(main())
