"""The training floor: one epoch's matrix products timed alone at their exact shapes, beside the measured epoch.

A PoissonVI training step on a minibatch of B cells with R regions, n_hidden H, n_latent L (2 + 2 layers) does
these products (forward; backward = the input gradient and the weight gradient, each as costly as the forward):

    encoder input  X (B x R, sparse) W (R x H)       forward + dW only (the data needs no gradient)
    encoder hidden (B x H) (H x H)                   forward + dX + dW
    mean, log_var  (B x H) (H x L), twice            forward + dX + dW
    decoder input  (B x L) (L x H)                   forward + dX (to z, back into the encoder) + dW
    decoder hidden (B x H) (H x H)                   forward + dX + dW
    decoder output (R x H) (H x B)                   forward + dX + dW (the logits transposed, (R x B), as training
                                                     computes them: Decoder.logits_by_region)

and the validation cells take the forward products once per epoch. FLOPs count 2 m k n per (m x k)(k x n)
product (dense-equivalent for the encoder input; its sparse FLOPs, 2 nnz H per product, are printed too). The
floor is each product timed alone as a dense torch.mm at its shape on this machine (median of repeats, the
same threads as training), summed over one epoch; the measured epoch runs the real training code on the same data.
What separates the two is everything else a step does: the softmax over R regions, LayerNorm, dropout, the
optimizer update, the gathering of the minibatch, and the per-operation overhead of eager PyTorch.

Then the same epochs with subnormal floats kept and flushed to zero (TrainingSettings.flush_denormals), alternating.

Usage: .venv-bench/bin/python benchmarks/bench_training_floor.py [DATA_FOLDER] [--min-region-fraction 0.01] [--epochs 6]
       [--denormal-rounds 3] (0 skips the subnormal comparison)
(0.01 is the workflow's default filter, as in the other benchmarks.)
"""

import argparse
import dataclasses
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from bench_common import DEFAULT_DATA, THREADS, machine_description, print_table  # noqa: E402


def load(folder, min_region_fraction):
    from atacflow.filtering import filter_cells_and_regions
    from atacflow.fragments import to_fragments
    from atacflow.matrix_io import read_peak_matrix

    adata = read_peak_matrix(folder)
    to_fragments(adata, "auto")
    adata, _ = filter_cells_and_regions(adata, min_region_fraction, 20, 10)
    return adata


def step_products(regions, hidden, latent):
    """(name, shape of a minibatch of b cells -> (m, k, n), passes) of one training step's products; passes:
    forward 1 + backward products."""
    return [
        ("encoder input X W", lambda b: (b, regions, hidden), 2),
        ("encoder hidden", lambda b: (b, hidden, hidden), 3),
        ("mean + log_var", lambda b: (b, hidden, 2 * latent), 3),
        ("decoder input", lambda b: (b, latent, hidden), 3),
        ("decoder hidden", lambda b: (b, hidden, hidden), 3),
        ("decoder output", lambda b: (regions, hidden, b), 3),
    ]


def time_product(m, k, n, repeats):
    """Median seconds of a dense (m x k)(k x n) torch.mm, float32."""
    left, right = torch.randn(m, k), torch.randn(k, n)
    for _ in range(5):
        torch.mm(left, right)
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        torch.mm(left, right)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def floor_table(adata, settings, hidden, latent, repeats):
    n_train = int(round(settings.train_fraction * adata.n_obs))
    n_validation = adata.n_obs - n_train
    full, last = divmod(n_train, settings.batch_size)
    batches = [(settings.batch_size, full)] + ([(last, 1)] if last else [])
    density = adata.X.nnz / (adata.n_obs * adata.n_vars)
    rows = []
    for name, shape, passes in step_products(adata.n_vars, hidden, latent):
        flops = seconds = 0.0
        for size, count in batches:  # training steps: forward + backward products
            flops += count * passes * 2 * math.prod(shape(size))
            seconds += count * passes * time_product(*shape(size), repeats)
        for start in range(0, n_validation, 1024):  # validation: forward only, chunks of 1,024 cells
            size = min(1024, n_validation - start)
            flops += 2 * math.prod(shape(size))
            seconds += time_product(*shape(size), repeats)
        sparse = name.startswith("encoder input")
        rows.append({"product": name, "shape (m k n)": " ".join(map(str, shape(settings.batch_size))), "passes": passes,
                     "GFLOP per epoch": flops / 1e9,
                     "sparse GFLOP per epoch": flops * density / 1e9 if sparse else math.nan,
                     "floor s per epoch": seconds, "GFLOP/s": flops / seconds / 1e9})
    table = pd.DataFrame(rows).set_index("product")
    table.loc["all products"] = [None, None, table["GFLOP per epoch"].sum(), math.nan,
                                 table["floor s per epoch"].sum(),
                                 table["GFLOP per epoch"].sum() / table["floor s per epoch"].sum()]
    return table, density


def measured_epochs(adata, settings, epochs, **changes):
    """Seconds of each epoch after the first (which warms the allocator up), and the trained weights."""
    from atacflow.model import PoissonVI

    model = PoissonVI(adata, device="cpu", seed=0)
    history = model.train(adata, dataclasses.replace(settings, max_epochs=epochs, **changes))
    return history["seconds"].iloc[1:].to_list(), model.module.state_dict()


def denormal_table(adata, settings, epochs, rounds):
    """Median seconds per epoch with subnormal floats kept and flushed to zero (TrainingSettings.flush_denormals),
    alternating in `rounds`, and whether both give the same weights."""
    rows, same = [], True
    for round_number in range(rounds):
        kept, kept_weights = measured_epochs(adata, settings, epochs, flush_denormals=False)
        flushed, flushed_weights = measured_epochs(adata, settings, epochs, flush_denormals=True)
        same &= all(torch.equal(kept_weights[name], flushed_weights[name]) for name in kept_weights)
        rows.append({"round": round_number, "kept s per epoch": statistics.median(kept),
                     "flushed s per epoch": statistics.median(flushed),
                     "flushed / kept": statistics.median(flushed) / statistics.median(kept)})
    return pd.DataFrame(rows).set_index("round"), same


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--min-region-fraction", type=float, default=0.01)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--denormal-rounds", type=int, default=3)
    args = parser.parse_args()
    from atacflow.model import DEFAULT_N_HIDDEN, default_sizes
    from atacflow.training import TrainingSettings

    torch.set_num_threads(THREADS)
    print(machine_description(), flush=True)
    adata = load(args.data, args.min_region_fraction)
    hidden, latent = default_sizes(adata.n_vars, DEFAULT_N_HIDDEN)
    settings = TrainingSettings()
    table, density = floor_table(adata, settings, hidden, latent, args.repeats)
    epochs, _ = measured_epochs(adata, settings, args.epochs)
    floor = table.loc["all products", "floor s per epoch"]
    measured = statistics.median(epochs)
    print_table(f"One epoch on {Path(args.data).name}: {adata.n_obs} cells x {adata.n_vars} regions (density "
                f"{density:.3f}), n_hidden {hidden}, n_latent {latent}, batch {settings.batch_size}, "
                f"{THREADS} threads", table)
    print(f"\nfloor (products alone) {floor:.3f} s per epoch; measured epoch median {measured:.3f} s "
          f"(range {min(epochs):.3f}-{max(epochs):.3f}, {len(epochs)} epochs after the first); "
          f"measured / floor {measured / floor:.2f}")
    if args.denormal_rounds <= 0:
        return
    denormals, same = denormal_table(adata, settings, args.epochs, args.denormal_rounds)
    print_table(f"Subnormal floats kept or flushed to zero, {args.epochs} epochs each, alternating", denormals)
    ratios = denormals["flushed / kept"]
    print(f"\nflushed / kept: median {ratios.median():.3f} [{ratios.min():.3f}, {ratios.max():.3f}]; "
          f"identical weights: {same}")


if __name__ == "__main__":
    main()
