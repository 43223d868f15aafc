"""The training optimizer: torch's AdamW update bit for bit, torch's plateau rule, and no compiler imported."""

import subprocess
import sys

import torch

from atacflow.optimizer import AdamW, PlateauCut


def _network():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.LeakyReLU(), torch.nn.Linear(5, 3))


def _steps(network, optimizer, n_steps, seed=1):
    generator = torch.Generator().manual_seed(seed)
    for _ in range(n_steps):
        inputs = torch.randn(8, 6, generator=generator)
        optimizer.zero_grad()
        network(inputs).pow(2).mean().backward()
        optimizer.step()


def test_adamw_makes_torchs_fused_update_bit_for_bit_and_resumes_from_its_state():
    ours, theirs = _network(), _network()
    optimizer = AdamW(ours.parameters(), lr=3e-3, weight_decay=1e-3, eps=1e-8)
    reference = torch.optim.AdamW(theirs.parameters(), lr=3e-3, weight_decay=1e-3, eps=1e-8, fused=True)
    _steps(ours, optimizer, 5)
    _steps(theirs, reference, 5)
    for mine, expected in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(mine, expected)
    resumed = _network()
    resumed.load_state_dict(ours.state_dict())
    again = AdamW(resumed.parameters(), lr=1.0, weight_decay=1e-3, eps=1e-8)
    again.load_state_dict(optimizer.state_dict())
    assert again.lr == 3e-3
    _steps(ours, optimizer, 3, seed=2)
    _steps(resumed, again, 3, seed=2)
    for mine, expected in zip(resumed.parameters(), ours.parameters(), strict=True):
        assert torch.equal(mine, expected)


def test_plateau_cut_follows_reduce_lr_on_plateau():
    losses = [5.0, 4.0, 4.0, 3.95, 4.1, 3.0, 3.0, 3.0, 3.0, 3.0, 2.99, 3.5, 3.5, 3.5]
    parameter = torch.nn.Parameter(torch.zeros(1))
    reference = torch.optim.SGD([parameter], lr=1.0)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(reference, mode="min", factor=0.5, patience=2,
                                                           threshold=0.1, threshold_mode="abs")
    optimizer = AdamW([parameter], lr=1.0, weight_decay=0.0, eps=1e-8)
    plateau = PlateauCut(optimizer, factor=0.5, patience=2, threshold=0.1)
    for loss in losses:
        scheduler.step(loss)
        plateau.step(loss)
        assert optimizer.lr == reference.param_groups[0]["lr"]
    assert optimizer.lr == 0.125


def test_training_imports_no_compiler():
    """torch.optim.Optimizer's first use imports torch._dynamo (seconds per training job); training does not."""
    script = (
        "import sys, numpy as np, scipy.sparse as sp, anndata as ad\n"
        "from atacflow.model import PoissonVI\n"
        "from atacflow.training import TrainingSettings\n"
        "counts = sp.random(60, 30, density=0.3, random_state=0, format='csr') * 5\n"
        "counts.data = np.ceil(counts.data)\n"
        "adata = ad.AnnData(counts.astype(np.float32))\n"
        "PoissonVI(adata, n_hidden=8, device='cpu').train(adata, TrainingSettings(max_epochs=2, "
        "lr_plateau_patience=1))\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr[-2000:]
