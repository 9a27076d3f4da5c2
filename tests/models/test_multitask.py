"""The multi-task model's auxiliary relaxation head and its loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation
from torch_geometric.data import Batch

from dacscreen.config import ModelConfig
from dacscreen.data.adsorbates import place_adsorbate
from dacscreen.data.sites import build_site
from dacscreen.featurize.graphs import atoms_to_graph
from dacscreen.models.ensemble import Scaling
from dacscreen.models.multitask import MultiTaskGNN
from dacscreen.models.train import masked_loss


def _graph():  # type: ignore[no-untyped-def]
    return atoms_to_graph(place_adsorbate(build_site("melon", ["Cu", "Ni"]), "Li2S2", "bridge"))


@pytest.mark.parametrize("arch", ["schnet", "painn"])
def test_displacements_turn_with_the_structure(arch: str) -> None:
    torch.manual_seed(0)
    model = MultiTaskGNN(ModelConfig(arch=arch, hidden=8, layers=1, n_rbf=8, displacement_weight=1.0)).eval()
    g = _graph()
    matrix = Rotation.from_euler("zyx", [40, 25, 70], degrees=True).as_matrix()
    rot = torch.tensor(matrix, dtype=torch.float32)
    turned = g.clone()
    turned.edge_vec, turned.pos = g.edge_vec @ rot.T, g.pos @ rot.T
    with torch.no_grad():
        e, _, disp = model(g)
        e_t, _, disp_t = model(turned)
    assert disp.shape == (g.num_nodes, 3)
    assert disp.abs().sum() > 0
    torch.testing.assert_close(disp_t, disp @ rot.T, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(e_t, e, atol=1e-5, rtol=1e-4)


def test_model_without_the_head_returns_no_displacement() -> None:
    _, _, disp = MultiTaskGNN(ModelConfig(hidden=8, layers=1, n_rbf=8))(_graph())
    assert disp is None


def test_displacement_loss_counts_site_and_adsorbate_atoms_only() -> None:
    torch.manual_seed(0)
    model = MultiTaskGNN(ModelConfig(hidden=8, layers=1, n_rbf=8, displacement_weight=1.0))
    g = _graph()
    g.y_ads, g.y_dband = torch.tensor([float("nan")]), torch.full((g.num_nodes,), float("nan"))
    g.y_disp = torch.zeros(g.num_nodes, 3)
    batch = Batch.from_data_list([g])
    with torch.no_grad():
        _, _, disp = model(batch)
        moving = batch.tags > 0
        expected = (disp[moving] ** 2).sum(-1).mean()
        assert float(masked_loss(model, batch, Scaling(), 0.0)) == 0.0
        torch.testing.assert_close(masked_loss(model, batch, Scaling(), 2.0), 2.0 * expected)
        batch.y_disp[moving] = float("nan")  # unknown relaxations add nothing
        assert float(masked_loss(model, batch, Scaling(), 2.0)) == 0.0
    np.testing.assert_array_equal(batch.tags.numpy() > 0, moving.numpy())


@pytest.mark.parametrize("arch", ["schnet", "painn"])
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_inference_on_the_receptive_field_is_exact(arch: str, layers: int) -> None:
    """Screening's forward pass keeps only the edges whose messages reach a site or adsorbate
    atom: the energies and the metals' d-band centres are those of the full pass, on far
    fewer edges."""
    from dacscreen.models.layers import field_subgraph, receptive_field

    torch.manual_seed(1)
    cfg = ModelConfig(arch=arch, hidden=16, layers=layers, n_rbf=8, displacement_weight=1.0)
    model = MultiTaskGNN(cfg).eval()
    clean = atoms_to_graph(build_site("melon", ["Fe"]))
    batch = Batch.from_data_list([_graph(), clean, _graph()])
    with torch.no_grad():
        e, d, disp = model(batch)
        e_i, d_i, disp_i = model(batch, inference=True)
    metals = batch.tags == 1
    torch.testing.assert_close(e_i, e, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(d_i[metals], d[metals], atol=1e-5, rtol=1e-5)
    assert disp is not None and disp_i is None
    sets = receptive_field(batch.edge_index, batch.tags > 0, layers)
    sizes = [len(edges) for edges, _ in sets]
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] < 0.3 * batch.edge_index.size(1)
    pruned = field_subgraph(batch, layers)  # what the ensemble hands every member
    with torch.no_grad():
        e_p, d_p, _ = model(pruned, inference=True)
    torch.testing.assert_close(e_p, e_i, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(d_p[metals], d_i[metals], atol=1e-6, rtol=1e-6)
    assert pruned.edge_index.size(1) == sizes[0] and batch.edge_index.size(1) > sizes[0]


class _FullPass(torch.nn.Module):
    """The model with every call made on the full graph (what training did before ``loss_only``)."""

    def __init__(self, model: MultiTaskGNN) -> None:
        super().__init__()
        self.model = model

    def forward(self, data, **_):  # type: ignore[no-untyped-def]
        return self.model(data)


@pytest.mark.parametrize("arch", ["schnet", "painn"])
@pytest.mark.parametrize("displacement_weight", [0.0, 0.5])
def test_training_loss_on_the_field_is_the_full_pass_loss(arch: str, displacement_weight: float) -> None:
    """Training runs the model on the receptive field of what its loss reads: the loss and every
    parameter's gradient are those of the full pass."""
    torch.manual_seed(2)
    cfg = ModelConfig(arch=arch, hidden=16, layers=2, n_rbf=8, displacement_weight=displacement_weight)
    model = MultiTaskGNN(cfg)
    graphs = [_graph(), atoms_to_graph(build_site("melon", ["Fe"])), _graph()]
    for g in graphs:
        g.y_ads = torch.tensor([-1.5])
        g.y_dband = torch.where(g.tags == 1, -1.2, float("nan"))
        g.y_disp = 0.1 * torch.randn(g.num_nodes, 3)
    batch = Batch.from_data_list(graphs)
    losses, grads = [], []
    for net in (_FullPass(model), model):
        model.zero_grad()
        loss = masked_loss(net, batch, Scaling(), displacement_weight)
        loss.backward()
        losses.append(loss.detach())
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    torch.testing.assert_close(losses[1], losses[0], atol=1e-6, rtol=1e-5)
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 0
    for name, g in grads[0].items():
        torch.testing.assert_close(grads[1][name], g, atol=1e-5, rtol=1e-4, msg=name)
