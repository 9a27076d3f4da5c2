"""Periodic graphs, node descriptors, and the featurised-graph cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dacscreen.data.sites import build_site
from dacscreen.featurize.graphs import GraphSettings, atoms_to_graph
from dacscreen.featurize.samples import Sample, build_graphs

NAN = float("nan")


def test_edges_cross_the_periodic_boundary() -> None:
    atoms = build_site("heptazine", ["Cu", "Ni"])
    g = atoms_to_graph(atoms, GraphSettings(cutoff=3.0))
    src, dst = g.edge_index
    d = g.edge_vec.norm(dim=-1)
    assert torch.all(d <= 3.0 + 1e-5)
    direct = torch.tensor(atoms.positions)[src] - torch.tensor(atoms.positions)[dst]
    # some edges wrap around the cell: their vector differs from the plain position difference
    assert (direct.norm(dim=-1) - d).abs().max() > 1.0
    # every atom has neighbours (no isolated nodes in a periodic sheet)
    assert len(set(dst.tolist())) == len(atoms)


def test_node_features_carry_tags_and_descriptors() -> None:
    atoms = build_site("melon", ["Cu", "Ni"])
    g = atoms_to_graph(atoms)
    assert g.x.shape == (len(atoms), 10)
    metals = (g.tags == 1).nonzero().flatten()
    assert len(metals) == 2
    assert torch.all(g.x[metals, 8] == 1.0)  # tag one-hot: site
    # Cu and Ni differ in their descriptors, so an unseen metal gets its own features
    assert not torch.allclose(g.x[metals[0], :7], g.x[metals[1], :7])


def _samples() -> list[Sample]:
    return [
        Sample("melon", "Cu", "Ni", 0, "Li2S2", "bridge", -3.0, (NAN, NAN)),
        Sample("melon", "Cu", "", 0, "clean", "none", 5.0, (-1.7, -1.7)),
    ]


def test_cache_reused_and_invalidated(tmp_path: Path) -> None:
    s = _samples()
    first = build_graphs(s, "as-built", GraphSettings(), tmp_path)
    files = list(tmp_path.glob("graphs-*.pt"))
    assert len(files) == 1
    again = build_graphs(s, "as-built", GraphSettings(), tmp_path)
    assert torch.equal(first[0].edge_index, again[0].edge_index)
    assert len(list(tmp_path.glob("graphs-*.pt"))) == 1
    build_graphs(s, "as-built", GraphSettings(cutoff=4.0), tmp_path)  # featuriser changed
    s[0].e_ads = -3.1  # dataset changed
    build_graphs(s, "as-built", GraphSettings(), tmp_path)
    assert len(list(tmp_path.glob("graphs-*.pt"))) == 3
    assert np.isnan(first[0].y_dband).all() and first[0].y_ads.item() == -3.0
    assert first[1].y_dband[first[1].tags == 1].tolist() == pytest.approx([-1.7])
