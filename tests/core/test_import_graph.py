"""Our modules import each other in one direction only.

Builds the import graph of ``apps/`` and ``sdk/gradline/`` from the source (the AST, not
by importing anything), counting every import between our own modules: top-level ones,
those inside functions (the usual way to dodge a cycle at import time) and those under
``if TYPE_CHECKING:``. A cycle among these means two modules cannot be understood or
changed one without the other; the test names each cycle it finds, as the chain of
modules and the line of each import, so the fix can start from the right place.

An import of ``pkg.mod`` is an edge to ``pkg.mod``; ``from pkg import name`` is an edge
to ``pkg.name`` when that is a module and to the package ``pkg`` (its ``__init__``)
otherwise. Not counted: a module's import of its own parent package (the implicit one,
and explicit ones such as ``from gradline import __version__`` in gradline.transport). A
package's ``__init__`` that re-exports its submodules is a facade on top of them; what
they read back from it (the SDK's ``gradline.run``, ``__version__``, ``_clear_current``)
is the one upward dependency left, and moving that state down would change what
``wandb.run`` is.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# (directory that holds the top-level package, package name)
PACKAGES = [(ROOT, "apps"), (ROOT / "sdk", "gradline")]


def _modules() -> dict[str, Path]:
    found = {}
    for base, top in PACKAGES:
        for path in sorted((base / top).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]):
    """(imported module, line) for each import in ``path`` of one of ``modules``."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]

    def resolve(target: str) -> str | None:
        # The longest prefix that is one of our modules: `apps.runs.ingest.write_batch`
        # names the module apps.runs.ingest.
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target or None

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = resolve(alias.name)
                if target:
                    yield target, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            for alias in node.names:
                target = resolve(f"{source}.{alias.name}")
                if target:
                    yield target, node.lineno


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {imported module: line of the first such import}."""
    modules = _modules()
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        edges = graph.setdefault(name, {})
        for target, line in _imports(name, path, modules):
            if target != name and not name.startswith(target + "."):
                edges.setdefault(target, line)
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a deep graph cannot hit the recursion limit.
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph[succ]))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _describe(component: list[str], graph: dict[str, dict[str, int]]) -> str:
    members = set(component)
    lines = [" <-> ".join(component)]
    for module in component:
        for target, line in sorted(graph[module].items()):
            if target in members:
                lines.append(f"    {module}:{line} imports {target}")
    return "\n".join(lines)


def test_the_graph_sees_our_imports():
    # Guards the test itself: a resolver that found nothing would find no cycles either.
    graph = import_graph()
    assert "apps.runs.models" in graph["apps.runs.services"]
    assert "gradline.transport" in graph["gradline.api"]
    assert "gradline.sweep_engines.space" in graph["gradline.sweep_engines.grid"]
    assert "gradline.tracked_run" in graph["gradline"]
    # Imports inside functions count: gradline.api imports gradline.table in a method.
    assert "gradline.table" in graph["gradline.api"]


# Cycles known and not yet untied, each with what it would take. The list may only
# shrink: a cycle not listed fails the test, and so does a listed one that is gone.
KNOWN_CYCLES = {
    # as_media (media.py) makes a Table of a DataFrame, and media.py encodes box/scene
    # metadata with values.to_jsonable, while table.py and values.py build on Media. To
    # untie: as_media above media and table, to_jsonable below media.
    frozenset({"gradline.media", "gradline.table", "gradline.values"}),
}


def test_no_import_cycles():
    graph = import_graph()
    found = [c for c in cycles(graph) if frozenset(c) not in KNOWN_CYCLES]
    assert not found, "import cycles:\n" + "\n".join(_describe(c, graph) for c in found)


def test_known_cycles_are_still_there():
    # Untied? Then take it off KNOWN_CYCLES, so it cannot come back unnoticed.
    present = {frozenset(c) for c in cycles(import_graph())}
    assert present >= KNOWN_CYCLES, sorted(map(sorted, KNOWN_CYCLES - present))


if __name__ == "__main__":
    graph = import_graph()
    for component in cycles(graph):
        print(_describe(component, graph))
