"""The evaluator's code stays in small pieces: module size, parameter counts, no import cycles.

These are the limits docs/design.md's code map relies on (one concern per module); they fail
with the names of whatever breaks them.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "functions" / "evaluator" / "honeycomb_evaluator"
MAX_MODULE_LINES = 400
MAX_PARAMETERS = 5  # not counting self/cls


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def test_no_module_is_over_400_lines() -> None:
    long = {
        name: n
        for name, path in modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"split these modules: {long}"


def test_no_function_takes_more_than_5_parameters() -> None:
    wide = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = node.args
                names = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
                names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
                count = len([n for n in names if n not in ("self", "cls")])
                if count > MAX_PARAMETERS:
                    wide.append(f"{name}.{node.name} ({count})")
    assert not wide, f"pass an object instead of long parameter lists: {wide}"


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of the package that `name` imports, at any depth in the file: inside functions
    (loaded on first use) and under `TYPE_CHECKING` (read by the type checker) too. Either way the
    importer depends on the imported module, so a cycle through them is a cycle all the same."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in known and m != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return cycles


def _import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: _imports(name, path, known) for name, path in mods.items()}


def test_the_import_graph_has_no_cycle() -> None:
    cycles = _cycles(_import_graph())
    assert not cycles, f"import cycles: {cycles}"


def _room(module: str) -> str:
    """A top-level module, or the package a module is in (`sharing.run` → `sharing`)."""
    return ".".join(module.split(".")[:2])


def test_packages_and_modules_depend_one_way() -> None:
    """No package imports a module that imports it back through another of its modules:
    drawn as rooms (packages and top-level modules), every arrow points down."""
    rooms: dict[str, set[str]] = {}
    for name, imported in _import_graph().items():
        rooms.setdefault(_room(name), set()).update(_room(m) for m in imported if _room(m) != _room(name))
    cycles = _cycles(rooms)
    assert not cycles, f"rooms that import each other: {cycles}"
