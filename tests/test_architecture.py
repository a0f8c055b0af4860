"""The package's floors hold: a module imports only from its own floor's package or from floors below, and no
two modules import each other, directly or round a loop (function-level imports count too); functions stay short."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "practicum"
# The ground (errors, checks, environ, provenance) is floor 0; the command line and `doctor` stand on top.
FLOORS = {"envs": 1, "agents": 1, "store": 1, "search": 2, "trainer": 2, "loop": 3, "browse": 3, "cli": 4, "doctor": 4}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:  # Alembic loads these by path; they import nothing of the package's
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Each module's imports of other package modules (`from pkg import sub` counts as `pkg.sub`)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                    for a in node.names
                ]
            elif isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            else:
                continue
            graph[name] |= {m for m in found if m in modules and m != name}
    return graph


def _floor(module: str) -> tuple[int, str]:
    area = module.split(".")[1] if "." in module else ""
    area = "cli" if area == "doctor" else area  # `practicum doctor`'s checks: part of the command line
    return FLOORS.get(area, 0), area


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_from_a_floor_above_or_a_neighbour_on_its_own() -> None:
    graph = _imports(_modules())
    wrong = []
    for module, imported in graph.items():
        floor, area = _floor(module)
        for other in imported:
            other_floor, other_area = _floor(other)
            if other_floor > floor or (other_floor == floor and floor > 0 and other_area != area):
                wrong.append(f"{module} -> {other}")
    assert not wrong, "imports against the floors:\n" + "\n".join(sorted(wrong))


def test_no_import_cycles() -> None:
    cycles = _cycles(_imports(_modules()))
    assert not cycles, "modules that import each other round a loop: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_checks_see_a_cycle_and_a_floor_broken() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _floor("practicum.trainer.rft") == (2, "trainer") and _floor("practicum.errors") == (0, "errors")
    graph = _imports(_modules())
    assert "practicum.loop.episodes" in graph["practicum.loop.executors"]  # lazy and package imports are seen
    assert "practicum.loop.ray_workers" in graph["practicum.loop.executors"]


def test_no_function_runs_over_80_lines() -> None:
    long = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > 80:
                    long.append(f"{name}.{node.name}: {lines} lines")
    assert not long, "functions to split: " + "; ".join(long)


def test_an_endpoint_policy_and_critic_load_without_torch() -> None:
    # A model served over HTTP needs no local model: the endpoint backend, the one policy and the one critic
    # (agents/policy.py, agents/critic.py, shared with the local backend) must not pull torch in.
    import subprocess
    import sys

    code = "import sys, practicum.agents.endpoint, practicum.agents.critic; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
