"""The package's layout (docs/architecture.md): imports only run downwards, no import cycle, and no
module is over 500 lines. Every import in kind/ counts, those inside functions too."""

import ast
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "kind"
# Layers from the top; a module may import from its own layer (without a cycle) or any lower one.
LAYERS = (
    ("kind.__main__", "kind.cli", "kind.app"),
    ("kind.bench", "kind.evaluation"),
    ("kind.enhance", "kind.train"),
    ("kind", "kind.api"),  # kind: the package's own __init__ (KinD, tune_process)
    ("kind.inference", "kind.video"),
    ("kind.weights",),
    ("kind.io", "kind.losses", "kind.metrics", "kind.models", "kind.tuning"),
    ("kind.constants", "kind.distributed", "kind.imageops", "kind.progress"),
)
MAX_LINES = 500
STANDALONE = {"kind.bench.official_tf_graph"}  # run by another Python (with TensorFlow), imports no kind


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int:
    """The index of the layer ``module`` belongs to (its longest matching prefix)."""
    best = max((prefix for group in LAYERS for prefix in group if module == prefix or module.startswith(prefix + ".")), key=len)
    return next(i for i, group in enumerate(LAYERS) if best in group)


def imports(module: str) -> set[str]:
    """The kind modules ``module`` imports, anywhere in its file."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "kind")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "kind":
            for alias in node.names:  # `from kind import losses` imports the module kind.losses
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    found.discard(module)
    return found


GRAPH = {module: imports(module) for module in MODULES}


def test_every_module_has_a_layer():
    assert all(layer(module) >= 0 for module in MODULES)
    assert all(target in MODULES for targets in GRAPH.values() for target in targets)


def test_imports_only_run_downwards():
    upward = [f"{a} ({layer(a)}) imports {b} ({layer(b)})" for a, targets in GRAPH.items() for b in targets if layer(b) < layer(a)]
    assert upward == []


def test_no_import_cycle():
    done, cycles = set(), []

    def visit(module, stack):
        if module in stack:
            cycles.append(stack[stack.index(module):] + [module])
            return
        if module in done:
            return
        for target in sorted(GRAPH[module]):
            visit(target, stack + [module])
        done.add(module)

    for module in GRAPH:
        visit(module, [])
    assert cycles == []


def test_a_cycle_would_be_found(monkeypatch):
    monkeypatch.setitem(GRAPH, "kind.constants", {"kind.cli.parser"})
    with pytest.raises(AssertionError):
        test_no_import_cycle()
    with pytest.raises(AssertionError):
        test_imports_only_run_downwards()


@pytest.mark.parametrize("module", [m for m in MODULES if m not in STANDALONE])
def test_no_module_over_500_lines(module):
    assert len(MODULES[module].read_text().splitlines()) <= MAX_LINES
