"""No kudev module imports one that imports it back, at any depth (lazy imports included).

Read from the source with `ast`, so the check covers imports inside functions too, which
the interpreter would only follow when they run.
"""

from __future__ import annotations

import ast

from tests.test_layers import PACKAGE, module_names


def imports_of(module: str, known: set[str]) -> set[str]:
    parts = module.split(".")
    path = PACKAGE.joinpath(*parts[1:])
    file = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    package = module if file.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        found |= {n for n in names if n in known}
    found.discard(module)
    # Importing a submodule runs its package's __init__ first, but that is no cycle of ours.
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_no_module_imports_one_that_imports_it_back():
    known = set(module_names())
    graph = {m: imports_of(m, known) - _packages_of(m) for m in known}
    assert find_cycle(graph) == []


def test_no_package_imports_one_that_imports_it_back():
    """At the level of kudev's folders too: engine/ may use deploy/, never the other way."""
    known = set(module_names())

    def folder(module: str) -> str:
        return ".".join(module.split(".")[:2])

    graph: dict[str, set[str]] = {}
    for module in known:
        uses = {folder(m) for m in imports_of(module, known)} - {folder(module), "kudev"}
        graph.setdefault(folder(module), set()).update(uses)
    for used in {u for uses in graph.values() for u in uses}:
        graph.setdefault(used, set())
    assert find_cycle(graph) == []


def test_the_check_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def _packages_of(module: str) -> set[str]:
    """A module's enclosing packages: `from kudev.x import y` names them without cycling."""
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}
