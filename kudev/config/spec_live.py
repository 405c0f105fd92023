"""The live-update keys of `.kudev.yaml` (`sync`, `run`, `restart`, `fallback`), as one table.

They may stand in `spec` (the single image) and in each `spec.images` entry. Every glob here
is a .dockerignore rule, the one pattern language kudev speaks (README "One pattern language").
"""

from __future__ import annotations

from kudev.config.model import RESTART_MODES
from kudev.config.spec_nodes import Either, Obj, Scalar, Seq, Spec

_PATTERN = Scalar("string", "A .dockerignore-style pattern.", min_length=1)

SYNC_RULE_FORMAT = Obj(
    {
        "src": Scalar(
            "string",
            "A file or folder of the image's build context, relative to the context "
            "(`.` is the whole context). It must not lead outside the context.",
            min_length=1,
        ),
        "dest": Scalar(
            "string",
            "The absolute path in the container that `src` maps to: with "
            "`{src: www, dest: /www}`, www/a/b.html is sent to /www/a/b.html.",
            min_length=1,
        ),
        "ignore": Seq(
            _PATTERN,
            "Paths under `src` never synced (a change there is a full build), as "
            ".dockerignore-style patterns relative to `src`.",
        ),
    },
    "One sync rule: a context path and where it lives in the container.",
    required=("src", "dest"),
)

RUN_STEP_FORMAT = Obj(
    {
        "cmd": Either(
            (
                Scalar("string", "A command line, run with `sh -c`.", min_length=1),
                Seq(Scalar("string", "One argument."), "An argv list, run as is.", min_items=1),
            ),
            "The command to run in the container after a sync.",
            "a string (run with `sh -c`) or an argv list",
        ),
        "trigger": Seq(
            _PATTERN,
            "Run only when a synced path (relative to the build context) matches one of "
            "these .dockerignore-style patterns; empty = after every sync.",
        ),
    },
    "A command run in every synced container after the files arrive.",
    required=("cmd",),
)

LIVE_UPDATE_FIELDS: dict[str, Spec] = {
    "sync": Either(
        (
            Seq(SYNC_RULE_FORMAT, "Sync rules."),
            Scalar("string", "Derive the rules from the Dockerfile.", enum=("infer",)),
        ),
        "Live update: a save under one of these rules is copied into the running containers "
        "instead of rebuilding the image. `infer` derives the rules from the final stage's "
        "COPY/ADD lines of the Dockerfile.",
        "a list of {src, dest} rules or `infer`",
    ),
    "run": Seq(RUN_STEP_FORMAT, "Commands run in the container after a sync, in order."),
    "restart": Scalar(
        "string",
        "After a sync, `container` restarts the container (SIGTERM to its PID 1); the synced "
        "files are put back when it starts again. `never` leaves it running.",
        "never",
        enum=RESTART_MODES,
    ),
    "fallback": Seq(
        _PATTERN,
        "Context paths whose change always forces a full rebuild (e.g. `requirements.txt`, "
        "`package.json`), as .dockerignore-style patterns.",
    ),
}

LIVE_UPDATE_KEYS = tuple(LIVE_UPDATE_FIELDS)
