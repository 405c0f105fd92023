"""The Dockerfiles the layer builder can do, read into steps — and the line it cannot do.

Supported in the final stage: FROM a base (or scratch), COPY and ADD of local files, ENV,
WORKDIR, USER, EXPOSE, LABEL, CMD, ENTRYPOINT and ARG. Earlier stages are ignored unless the
final one needs them (FROM a stage, COPY --from): that needs a builder that runs them.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from kudev.errors import BuildFailed

SUPPORTED = ("FROM", "COPY", "ADD", "ENV", "WORKDIR", "USER", "EXPOSE", "LABEL", "CMD",
             "ENTRYPOINT", "ARG")  # fmt: skip
COPY_FLAGS = ("chown", "chmod", "link")
_VAR = re.compile(r"\$(?:\{(\w+)(?::?([-+])([^}]*))?\}|(\w+))")
REFUSED_REMEDY = (
    "use `builder: docker`, `podman` or `buildah` for this image (`builder: auto` falls "
    "back to them by itself)"
)


class LayersRefused(BuildFailed):
    """The Dockerfile needs something the layer builder does not do; the cause names the line."""


@dataclass(frozen=True)
class Instruction:
    line: int  # 1-based, where the instruction starts
    keyword: str  # upper case
    args: str  # the rest, continuation lines joined
    text: str  # as written, for history and messages


@dataclass(frozen=True)
class CopyStep:
    instruction: Instruction
    sources: tuple[str, ...]
    dest: str  # absolute, WORKDIR applied
    chown: str = ""
    chmod: int | None = None
    is_add: bool = False


@dataclass(frozen=True)
class ConfigStep:
    """ENV, LABEL (pairs), EXPOSE (ports), USER, WORKDIR (text), CMD, ENTRYPOINT (argv)."""

    instruction: Instruction
    value: object


@dataclass
class Plan:
    """What the final stage does, variables expanded."""

    dockerfile: Path
    base: str  # "busybox:1.36", or "scratch"
    steps: list[CopyStep | ConfigStep] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # set by ENV, in order
    args: dict[str, str] = field(default_factory=dict)


def read_instructions(text: str) -> list[Instruction]:
    found: list[Instruction] = []
    pending, start, raw = "", 0, []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        raw.append(line)
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = (pending + stripped).strip()
        keyword, _, args = whole.partition(" ")
        found.append(Instruction(start, keyword.upper(), args.strip(), "\n".join(raw)))
        pending, raw = "", []
    return found


def plan_for(dockerfile: Path, build_args: dict[str, str], target: str = "") -> Plan:
    """The final stage (or `target`) as steps; raises LayersRefused naming the line."""
    text = dockerfile.read_text(encoding="utf-8")
    instructions = read_instructions(text)
    stages = _stages(instructions)
    if not stages:
        raise LayersRefused(f"{dockerfile}: no FROM", "a Dockerfile starts with FROM")
    chosen = _chosen_stage(stages, target, dockerfile)
    global_args = _global_args(instructions, build_args)
    return _plan_stage(dockerfile, stages, chosen, global_args, build_args)


def _stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    stages: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            stages.append([instruction])
        elif stages:
            stages[-1].append(instruction)
    return stages


def _stage_name(stage: list[Instruction]) -> str:
    words = [w for w in stage[0].args.split() if not w.startswith("--")]
    return words[2].lower() if len(words) == 3 and words[1].upper() == "AS" else ""


def _chosen_stage(stages: list[list[Instruction]], target: str, dockerfile: Path) -> int:
    if not target:
        return len(stages) - 1
    for index, stage in enumerate(stages):
        if _stage_name(stage) == target.lower():
            return index
    raise LayersRefused(f"{dockerfile}: no stage named {target!r}", "fix `target` in .kudev.yaml")


def _global_args(instructions: list[Instruction], build_args: dict[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG":
            name, _, default = instruction.args.partition("=")
            values[name.strip()] = build_args.get(name.strip(), default.strip().strip("\"'"))
    return values


def _plan_stage(
    dockerfile: Path,
    stages: list[list[Instruction]],
    chosen: int,
    global_args: dict[str, str],
    build_args: dict[str, str],
) -> Plan:
    stage = stages[chosen]
    names = {_stage_name(s) for s in stages[:chosen]} - {""}
    head = stage[0]
    words = [w for w in expand(head.args, global_args).split() if not w.startswith("--")]
    base = words[0] if words else ""
    if base.lower() in names:
        _refuse(dockerfile, head, "FROM an earlier stage needs that stage built")
    plan = Plan(dockerfile=dockerfile, base=base)
    workdir = "/"
    for instruction in stage[1:]:
        if instruction.keyword not in SUPPORTED:
            _refuse(dockerfile, instruction, _why_not(instruction.keyword))
        variables = {**plan.args, **plan.env}
        if instruction.keyword == "ARG":
            name, _, default = instruction.args.partition("=")
            name = name.strip()
            plan.args[name] = build_args.get(name, global_args.get(name, _unquote(default)))
        elif instruction.keyword in ("COPY", "ADD"):
            plan.steps.append(_copy(dockerfile, instruction, workdir, variables))
        elif instruction.keyword == "WORKDIR":
            workdir = _join(workdir, expand(instruction.args, variables))
            plan.steps.append(ConfigStep(instruction, workdir))
        else:
            value = _config_value(dockerfile, instruction, variables)
            if instruction.keyword == "ENV" and isinstance(value, dict):
                plan.env.update(value)
            plan.steps.append(ConfigStep(instruction, value))
    return plan


def _config_value(dockerfile: Path, instruction: Instruction, variables: dict[str, str]) -> object:
    keyword, args = instruction.keyword, instruction.args
    if keyword in ("ENV", "LABEL"):
        return dict(_pairs(dockerfile, instruction, variables))
    if keyword == "EXPOSE":
        ports = expand(args, variables).split()
        return [port if "/" in port else f"{port}/tcp" for port in ports]
    if keyword == "USER":
        return expand(args, variables)
    return exec_form(args)  # CMD, ENTRYPOINT: never expanded at build time


def _why_not(keyword: str) -> str:
    if keyword == "RUN":
        return "the layer builder runs no commands"
    return f"{keyword} is not among what the layer builder does ({', '.join(SUPPORTED)})"


def _refuse(dockerfile: Path, instruction: Instruction, why: str) -> None:
    first = instruction.text.strip().splitlines()[0]
    raise LayersRefused(f"{dockerfile.name}:{instruction.line}: `{first}`: {why}", REFUSED_REMEDY)


def _copy(
    dockerfile: Path, instruction: Instruction, workdir: str, variables: dict[str, str]
) -> CopyStep:
    words = _words(instruction.args)
    flags: dict[str, str] = {}
    while words and words[0].startswith("--"):
        name, _, value = words.pop(0)[2:].partition("=")
        if name not in COPY_FLAGS:
            _refuse(dockerfile, instruction, f"--{name} is beyond the layer builder")
        flags[name] = expand(value, variables)
    paths = [expand(w, variables) for w in words]
    if len(paths) < 2:
        _refuse(dockerfile, instruction, "it needs a source and a destination")
    *sources, dest = paths
    if instruction.keyword == "ADD" and any(re.match(r"^[a-z]+://|^git@", s) for s in sources):
        _refuse(dockerfile, instruction, "ADD of a URL needs the network at build time")
    if len(sources) > 1 and not dest.endswith("/"):
        _refuse(dockerfile, instruction, "with several sources the destination must end in /")
    absolute = _join(workdir, dest) + ("/" if dest.endswith("/") or dest in (".", "./") else "")
    chmod = None
    if flags.get("chmod"):
        try:
            chmod = int(flags["chmod"], 8)
        except ValueError:
            _refuse(dockerfile, instruction, "--chmod must be octal here")
    return CopyStep(
        instruction,
        tuple(sources),
        absolute,
        chown=flags.get("chown", ""),
        chmod=chmod,
        is_add=instruction.keyword == "ADD",
    )


def exec_form(args: str) -> list[str]:
    """CMD/ENTRYPOINT: a JSON array as is, anything else through /bin/sh -c."""
    if args.startswith("["):
        try:
            value = json.loads(args)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", args]


def _words(args: str) -> list[str]:
    if args.startswith("["):
        try:
            value = json.loads(args)
            if isinstance(value, list):
                return [str(v) for v in value]
        except ValueError:
            pass
    return args.split()


def _pairs(
    dockerfile: Path, instruction: Instruction, variables: dict[str, str]
) -> list[tuple[str, str]]:
    """ENV and LABEL: `K=V K2="v 2"`, or the old `K V with spaces`."""
    words = shlex.split(instruction.args, posix=True)
    if words and "=" not in words[0]:
        return [(words[0], expand(" ".join(words[1:]), variables))]
    pairs: list[tuple[str, str]] = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            _refuse(dockerfile, instruction, f"{word!r} is not KEY=VALUE")
        pairs.append((key, expand(value, {**variables, **dict(pairs)})))
    return pairs


def expand(text: str, variables: dict[str, str]) -> str:
    """`$X`, `${X}`, `${X:-default}` and `${X:+alt}`, as Docker expands them."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        have = variables.get(name, "")
        if match.group(2) == "-":
            return have or match.group(3)
        if match.group(2) == "+":
            return match.group(3) if have else ""
        return have

    return _VAR.sub(value, text)


def _unquote(text: str) -> str:
    return text.strip().strip("\"'")


def _join(workdir: str, path: str) -> str:
    import posixpath

    joined = posixpath.normpath(posixpath.join(workdir, path))
    return "/" + joined.lstrip("/")
