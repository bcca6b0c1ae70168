"""The folder tree is the architecture: imports only point down, and nothing imports
in a circle. Built from the source with ast, so lazy imports inside functions and
imports under TYPE_CHECKING count like any other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Top first. A unit is a package or module; each module belongs to the longest unit
# naming it. A unit may import units of lower layers, and units of its own layer as
# long as the graph of units stays acyclic.
LAYERS: list[set[str]] = [
    {"orchestrator.__main__", "orchestrator.cli", "orchestrator.access.mcp"},  # faces
    {"orchestrator.access"},  # the tools registry, roles, audit
    {"orchestrator.export", "orchestrator.schedule", "orchestrator.observe",
     "orchestrator.pitr"},  # operations
    {"orchestrator.sets"},  # backup sets: make, restore, sync, compare, verify
    {"orchestrator.profile", "orchestrator.engines", "orchestrator.models", "hooks"},
    {"orchestrator.run"},  # the one place processes start
    {"orchestrator.errors", "orchestrator"},
]
LAYER_OF = {unit: depth for depth, units in enumerate(LAYERS) for unit in units}


def modules() -> dict[str, Path]:
    found = {}
    for top in ("orchestrator", "hooks"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def unit_of(module: str) -> str:
    parts = module.split(".")
    for size in range(len(parts), 0, -1):
        candidate = ".".join(parts[:size])
        if candidate in LAYER_OF:
            return candidate
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS")


def imports_of(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of orchestrator and hooks that `module` imports, anywhere in it."""
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([base] if base else []))
            # `from package import submodule` imports the submodule.
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                     for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
    return targets


def graph() -> dict[str, set[str]]:
    known = modules()
    return {module: imports_of(module, path, known) for module, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def units_graph(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    result: dict[str, set[str]] = {}
    for module, targets in edges.items():
        unit = unit_of(module)
        result.setdefault(unit, set()).update(
            unit_of(target) for target in targets if unit_of(target) != unit)
    return result


def describe(edges: dict[str, set[str]], members: Iterable[str]) -> str:
    inside = set(members)
    return "; ".join(f"{a} -> {', '.join(sorted(edges[a] & inside))}" for a in sorted(inside))


def test_no_module_imports_in_a_circle() -> None:
    edges = graph()
    found = cycles(edges)
    assert not found, "import circles between modules:\n" + "\n".join(
        describe(edges, component) for component in found)


def test_no_package_imports_in_a_circle() -> None:
    edges = units_graph(graph())
    found = cycles(edges)
    assert not found, "import circles between packages:\n" + "\n".join(
        describe(edges, component) for component in found)


def test_imports_only_point_down() -> None:
    upward = [
        f"{module} (layer {LAYER_OF[unit_of(module)]}) imports {target} "
        f"(layer {LAYER_OF[unit_of(target)]})"
        for module, targets in sorted(graph().items()) for target in sorted(targets)
        if LAYER_OF[unit_of(target)] < LAYER_OF[unit_of(module)]
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_the_top_level_holds_packages_and_a_handful_of_modules() -> None:
    loose = sorted(path.name for path in (ROOT / "orchestrator").glob("*.py"))
    assert loose == ["__init__.py", "__main__.py", "errors.py"]


def test_the_checks_see_a_circle_and_an_upward_import() -> None:
    """The checks above can fail: a made-up graph with both defects is caught."""
    session, state, tools = ("orchestrator.sets.session", "orchestrator.sets.state",
                             "orchestrator.access.tools")
    edges = {session: {state}, state: {session, tools}, tools: set()}
    assert cycles(edges) == [[session, state]]
    assert LAYER_OF[unit_of(tools)] < LAYER_OF[unit_of(state)]
    schema, restic = "orchestrator.profile.schema", "orchestrator.engines.restic"
    assert cycles(units_graph({schema: {restic}, restic: {schema}})) == [
        ["orchestrator.engines", "orchestrator.profile"]]
