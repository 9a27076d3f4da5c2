"""The import graph of ``src/dacscreen``, read from the source: no cycle, and the layers hold
(cli → workflows → screening → models → featurize → data). A change that makes the screen read
the store or models import the screen fails here, not in a later refactor."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

SRC = Path(__file__).resolve().parents[1] / "src"
TRAINING = {"fit", "train", "dataset", "crossval", "tune", "multifidelity", "evaluation", "ddp"}
"""Modules of ``dacscreen.models`` that train or evaluate (the screen only predicts)."""


def _module(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(name: str, modules: set[str]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> nx.DiGraph:
    """Module → module edges of every ``dacscreen`` import, function-level imports included."""
    files = {_module(p): p for p in SRC.joinpath("dacscreen").rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for mod, path in files.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                target = _resolve(name, set(files)) if name.startswith("dacscreen") else None
                if target and target != mod and not mod.startswith(f"{target}."):
                    graph.add_edge(mod, target)
    return graph


def _edges(graph: nx.DiGraph, src: str, dst: str) -> list[tuple[str, str]]:
    return [(a, b) for a, b in graph.edges if a.startswith(src) and b.startswith(dst)]


def test_no_import_cycle() -> None:
    assert list(nx.simple_cycles(import_graph())) == []


def test_models_never_import_the_screen() -> None:
    assert _edges(import_graph(), "dacscreen.models", "dacscreen.screening") == []


def test_the_screen_needs_neither_the_store_nor_the_training_code() -> None:
    graph = import_graph()
    bad = _edges(graph, "dacscreen.screening", "dacscreen.data.store")
    bad += _edges(graph, "dacscreen.screening", "dacscreen.data.labelling")
    bad += [
        (a, b)
        for a, b in _edges(graph, "dacscreen.screening", "dacscreen.models.")
        if b.split(".")[-1] in TRAINING
    ]
    assert bad == []


def test_the_graph_sees_real_imports() -> None:
    """The checks above are not vacuous: known edges are found."""
    graph = import_graph()
    assert graph.has_edge("dacscreen.screening.predict", "dacscreen.models.predictor")
    assert graph.has_edge("dacscreen.workflows.loop", "dacscreen.models.fit")
