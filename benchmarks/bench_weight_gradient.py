"""The encoder's first-layer weight gradient, dense against sparse, by the density of the minibatch.

`module.SparseProduct` makes dW = X^T dY for a sparse minibatch X (B cells x R regions) in one of two ways and
switches at `module.DENSE_GRADIENT_DENSITY` (nonzeros / (B R)):
- dense: X scattered into a zeroed (R, B) array, then one (R x B)(B x H) product: cost ~ R B H, whatever the density;
- sparse: the entries grouped by region (a stable sort of their region indices), then one embedding-bag sum per
  region: cost ~ nnz log nnz for the sort plus nnz H for the sums.

This script times both, through `SparseProduct` itself (the switch forced each way), at training's shapes (B 128,
H 128, R the Granja set's regions after the 1% filter) on minibatches drawn at fixed densities, and prints the
density where the sparse path stops being faster on this machine. Each time is the median over rounds of the mean
of repeated backward passes, the two paths alternating.

Usage: .venv-bench/bin/python benchmarks/bench_weight_gradient.py [--regions 2734] [--rounds 7]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import torch  # noqa: E402

from bench_common import THREADS, machine_description, print_table  # noqa: E402

BATCH, HIDDEN, REPEATS = 128, 128, 20
DENSITIES = (0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.07, 0.1)


def minibatch(n_regions, density, seed):
    """SparseRows of BATCH cells whose entries are present with probability `density`, counts 1-3."""
    from atacflow.sparse_batches import DeviceCSR

    rng = np.random.default_rng(seed)
    counts = sp.random(BATCH, n_regions, density=density, format="csr", random_state=rng,
                       data_rvs=lambda n: rng.integers(1, 4, n).astype(np.float32))
    return DeviceCSR(counts, torch.device("cpu")).rows(torch.arange(BATCH))


def backward_microseconds(module_code, weight, batch, threshold):
    """Mean microseconds of SparseProduct's forward and backward with the switch at `threshold`."""
    grad = torch.randn(batch.n_cells, weight.shape[1], generator=torch.Generator().manual_seed(1))
    saved, module_code.DENSE_GRADIENT_DENSITY = module_code.DENSE_GRADIENT_DENSITY, threshold
    try:
        started = time.perf_counter()
        for _ in range(REPEATS):
            weight.grad = None
            module_code.SparseProduct.apply(weight, batch).backward(grad)
        return (time.perf_counter() - started) / REPEATS * 1e6
    finally:
        module_code.DENSE_GRADIENT_DENSITY = saved


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=2734, help="R (default: Granja's regions after the 1%% filter)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    import atacflow.module as module_code

    print(f"machine: {machine_description()}")
    print(f"B {BATCH} cells, H {HIDDEN} hidden units, R {args.regions} regions; switch today at density "
          f"{module_code.DENSE_GRADIENT_DENSITY}")
    weight = torch.randn(args.regions, HIDDEN, requires_grad=True)
    rows = []
    for density in DENSITIES:
        batch = minibatch(args.regions, density, seed=0)
        paths = {"dense": 0.0, "sparse": 1.0}  # threshold 0: always dense; 1: always sparse
        for threshold in paths.values():  # warm-up
            backward_microseconds(module_code, weight, batch, threshold)
        times = {name: [] for name in paths}
        for round_number in range(args.rounds):
            for name in (list(paths) if round_number % 2 == 0 else list(paths)[::-1]):
                times[name].append(backward_microseconds(module_code, weight, batch, paths[name]))
        dense, sparse = statistics.median(times["dense"]), statistics.median(times["sparse"])
        rows.append({"density": density, "nonzeros": len(batch.counts), "dense us": dense, "sparse us": sparse,
                     "sparse / dense": sparse / dense})
    table = pd.DataFrame(rows).set_index("density")
    print_table("forward + backward of the encoder's first layer, one minibatch", table)
    slower = table.index[table["sparse / dense"] > 1]
    print(f"\nsparse faster below density {slower[0] if len(slower) else 'every density measured'} on this machine")


if __name__ == "__main__":
    main()
