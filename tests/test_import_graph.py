"""The import graph of the project (core, gui, main) has no cycle, imports inside functions included.

A cycle "closed" by an import inside a function still ties the modules together: neither can be
understood, tested or moved without the other. The graph is built with grimp (import-linter's own
library), which reads every import statement, wherever it is. The layer contracts themselves are
in pyproject.toml ([tool.importlinter], run by `lint-imports` in `make test`).

Also here, because they are rules about who may depend on what: only core.inference loads Keras
model files, and core's long functions report through the one Reporter/CancelToken convention of
core/reporting.py, never through a private progress callback.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp")

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "gui")

# Cycles known and allowed for now, each with the reason. Remove an entry as soon as its cycle is
# gone (test_expected_cycles_still_exist says when).
EXPECTED_CYCLES: dict[frozenset[str], str] = {
    # None left. A cycle that must stay for a while goes here, with the reason, so that it is seen.
}


@pytest.fixture(scope="module")
def graph():
    sys.path.insert(0, str(ROOT))
    try:
        # Imports under ``if TYPE_CHECKING:`` never run (a page names its tab's type for annotations);
        # every other import counts, at module level or inside a function.
        return grimp.build_graph(
            *PACKAGES, include_external_packages=True, exclude_type_checking_imports=True, cache_dir=None
        )
    finally:
        sys.path.remove(str(ROOT))


def _ours(module: str) -> bool:
    return module.split(".")[0] in PACKAGES


def _strongly_connected(graph) -> list[set[str]]:
    """Groups of modules that import each other, directly or not (Tarjan), each of two or more."""
    modules = sorted(m for m in graph.modules if _ours(m))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    counter = 0

    def edges(m: str) -> list[str]:
        return sorted(d for d in graph.find_modules_directly_imported_by(m) if _ours(d))

    for root in modules:  # iterative, so a deep graph cannot hit the recursion limit
        if root in index:
            continue
        work = [(root, iter(edges(root)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges(child))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    group.add(m)
                    if m == node:
                        break
                if len(group) > 1:
                    groups.append(group)
    return groups


def _describe(graph, group: set[str]) -> str:
    """One cycle through ``group``, each import with its line: ``a -> b (l.12) -> a (l.40)``."""
    first = min(group)
    nxt = min(d for d in graph.find_modules_directly_imported_by(first) if d in group)
    chain = [first, *graph.find_shortest_chain(importer=nxt, imported=first)]
    parts = [chain[0]]
    for a, b in zip(chain, chain[1:], strict=False):
        lines = sorted({d["line_number"] for d in graph.get_import_details(importer=a, imported=b)})
        parts.append(f"{b} (l.{','.join(map(str, lines))} of {a})")
    return " -> ".join(parts)


def test_project_import_graph_has_no_cycle(graph):
    found = _strongly_connected(graph)
    unexpected = [g for g in found if frozenset(g) not in EXPECTED_CYCLES]
    assert not unexpected, "import cycles (imports inside functions count too):\n" + "\n".join(
        _describe(graph, g) for g in unexpected
    )


def test_expected_cycles_still_exist(graph):
    """A cycle that was untied must leave EXPECTED_CYCLES, so that it cannot come back unnoticed."""
    found = {frozenset(g) for g in _strongly_connected(graph)}
    gone = [sorted(c) for c in EXPECTED_CYCLES if c not in found]
    assert not gone, f"these cycles are gone: remove them from EXPECTED_CYCLES: {gone}"


def test_nothing_imports_main(graph):
    """main.py is the entry point: it imports core and gui, so nothing may import it back."""
    importers = sorted(graph.find_modules_that_directly_import("main")) if "main" in graph.modules else []
    assert importers == []


def test_the_cycle_check_sees_imports_inside_functions(graph):
    """The graph must hold a known import made inside a function (core.cli imports core.training there)."""
    details = graph.get_import_details(importer="core.cli", imported="core.training")
    assert details and all(d["line_contents"].startswith("from core.training") for d in details)
    source = (ROOT / "core" / "cli.py").read_text(encoding="utf-8").splitlines()
    assert source[details[0]["line_number"] - 1].startswith("    ")  # indented: inside a function


# --------------------------------------------------------------------------------------------------
# Rules about who may depend on what inside core


def _core_files() -> list[Path]:
    return sorted((ROOT / "core").rglob("*.py"))


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def test_only_core_inference_loads_keras_model_files():
    """One model loader: a .keras file is opened by core.inference.load_model (safe mode, its card)."""
    offenders = []
    for path in _core_files():
        if path == ROOT / "core" / "inference.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            rel = path.relative_to(ROOT)
            if isinstance(node, ast.Call) and _dotted(node.func).endswith("load_model"):
                name = _dotted(node.func)
                if name.split(".")[0] in ("keras", "tf", "tensorflow"):
                    offenders.append(f"{rel}:{node.lineno}: {name}(...)")
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("keras", "tensorflow"):
                if any(alias.name == "load_model" for alias in node.names):
                    offenders.append(f"{rel}:{node.lineno}: from {node.module} import load_model")
    assert offenders == [], "load .keras files through core.inference.load_model:\n" + "\n".join(offenders)


def test_core_functions_take_a_reporter_not_a_progress_callback():
    """One progress-and-cancel convention (core/reporting.py): ``reporter=`` and ``cancel=``."""
    offenders = []
    for path in _core_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = node.args
                names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
                if "on_progress" in names:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.name}(on_progress=...)")
            if isinstance(node, ast.ClassDef) and node.name == "_Cancel":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: a private _Cancel protocol")
    assert offenders == [], "use reporter: Reporter and cancel: CancelToken (core/reporting.py):\n" + "\n".join(
        offenders
    )
