"""One training step (forward, backward, AdamW) of today's code against an earlier commit's, interleaved in one
process, and the decoder's output product in both layouts.

1. The decoder's output product at training's shapes (B cells, H hidden units, R regions), timed alone: logits
   (B, R) = h W^T, or transposed (R, B) = W h^T (the layout training reads since `Decoder.logits_by_region`), with
   the two products of its backward pass in each layout. Median over rounds of repeats.
2. The training step: `module.py` and `sparse_batches.py` of `--baseline` (a commit from 385fba9 on, whose
   minibatches carry their row indices) are loaded from git beside today's, both models built from the same seed
   and updated by today's AdamW, and each runs the same minibatches of the data in turn, round after round, the
   order of the two alternating; every round gives a ratio (today / baseline, milliseconds per step), and the
   table shows their median and quartiles beside the ratio of the medians: this machine's speed drifts within
   minutes, so only ratios from the same rounds compare.
3. Making the minibatches of one epoch over every cell (`DeviceCSR.minibatches`, the batches built and dropped),
   today's `sparse_batches.py` against the baseline's, interleaved the same way: milliseconds per epoch.

Usage: .venv-bench/bin/python benchmarks/bench_training_step.py [DATA_FOLDER] [--baseline 385fba9] [--rounds 40]
"""

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from bench_common import DEFAULT_DATA, REPO, THREADS, machine_description, prepare_data, print_table  # noqa: E402

BATCH, HIDDEN, LATENT, STEPS_PER_ROUND, REPEATS = 128, 128, 11, 20, 10


def median_microseconds(functions, rounds):
    """Median over `rounds` of each function's mean time over REPEATS calls, the functions taking turns."""
    times = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            started = time.perf_counter()
            for _ in range(REPEATS):
                function()
            times[name].append((time.perf_counter() - started) / REPEATS * 1e6)
    return {name: statistics.median(values) for name, values in times.items()}


def product_layouts(n_regions, rounds):
    """The decoder's output product and its two gradients, in the (B, R) and the (R, B) layout."""
    hidden, weight = torch.randn(BATCH, HIDDEN), torch.randn(n_regions, HIDDEN)
    bias, grad = torch.randn(n_regions), torch.randn(BATCH, n_regions)
    grad_by_region = grad.T.contiguous()
    times = median_microseconds({
        ("forward", "(B, R) = h W^T + b"): lambda: torch.addmm(bias, hidden, weight.T),
        ("forward", "(R, B) = W h^T + b"): lambda: torch.addmm(bias.unsqueeze(-1), weight, hidden.T),
        ("input gradient", "(B, R) layout: G W"): lambda: grad @ weight,
        ("input gradient", "(R, B) layout: (W^T G^T)^T"): lambda: weight.T @ grad_by_region,
        ("weight gradient", "(B, R) layout: G^T h"): lambda: grad.T @ hidden,
        ("weight gradient", "(R, B) layout: G^T h, G^T contiguous"): lambda: grad_by_region @ hidden,
    }, rounds)
    rows = [{"product": product, "layout": layout, "us": value, "GFLOP/s": 2 * BATCH * HIDDEN * n_regions / value / 1e3}
            for (product, layout), value in times.items()]
    return pd.DataFrame(rows).set_index(["product", "layout"])


def load_library_at(revision, folder):
    """`module.py` and `sparse_batches.py` of `revision` (any name git knows), as package `atacflow_<short hash>` in
    `folder`."""
    revision = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", revision], capture_output=True,
                              text=True, check=True).stdout.strip()
    name = f"atacflow_{revision}"
    package = Path(folder) / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    for file in ("module.py", "sparse_batches.py"):
        source = subprocess.run(["git", "-C", str(REPO), "show", f"{revision}:workflow/lib/{file}"], capture_output=True,
                                text=True, check=True).stdout
        (package / file).write_text(source)
    spec = importlib.util.spec_from_file_location(name, package / "__init__.py", submodule_search_locations=[str(package)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return importlib.import_module(f"{name}.module"), importlib.import_module(f"{name}.sparse_batches")


def step_timer(module_code, batches_code, counts, seed=0):
    """A function running STEPS_PER_ROUND training steps (beta 1) of a fresh model of `module_code` on fixed
    minibatches; returns milliseconds per step."""
    from atacflow.optimizer import AdamW

    data = batches_code.DeviceCSR(counts, torch.device("cpu"))
    order = torch.randperm(counts.shape[0], generator=torch.Generator().manual_seed(seed))
    minibatches = list(data.minibatches(order[: BATCH * STEPS_PER_ROUND], BATCH))
    torch.manual_seed(seed)
    model = module_code.PoissonVAE(counts.shape[1], HIDDEN, LATENT).train()
    optimizer = AdamW(model.parameters(), lr=3e-3, weight_decay=1e-3, eps=1e-8)

    def run():
        started = time.perf_counter()
        for _, batch, library_size, constant in minibatches:
            reconstruction, kl = model.loss(batch, library_size, constant)
            loss = (reconstruction + kl).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return (time.perf_counter() - started) / len(minibatches) * 1e3

    return run


def minibatch_timer(batches_code, counts, seed=0):
    """A function making one epoch's minibatches of every cell (a fixed order) with `batches_code`; returns
    milliseconds per epoch."""
    data = batches_code.DeviceCSR(counts, torch.device("cpu"))
    order = torch.randperm(counts.shape[0], generator=torch.Generator().manual_seed(seed))

    def run():
        started = time.perf_counter()
        for _ in data.minibatches(order, BATCH):
            pass
        return (time.perf_counter() - started) * 1e3

    return run


def interleaved(timers, rounds):
    """Each timer's results over `rounds`, the timers' order reversed every other round."""
    times = {name: [] for name in timers}
    for round_number in range(rounds):
        for name in sorted(timers, reverse=round_number % 2 == 1):
            times[name].append(timers[name]())
    return times


def comparison_table(times, baseline, unit):
    """Medians of today and the baseline, and the median and quartiles of the rounds' ratios."""
    ratios = [a / b for a, b in zip(times["today"], times["baseline"])]
    quartiles = statistics.quantiles(ratios, n=4)
    medians = {name: statistics.median(values) for name, values in times.items()}
    return pd.DataFrame([
        {"code": f"baseline ({baseline})", unit: medians["baseline"]},
        {"code": "today", unit: medians["today"]},
        {"code": "today / baseline, median of the rounds' ratios", unit: statistics.median(ratios)},
        {"code": "  quartiles of the rounds' ratios", unit: f"{quartiles[0]:.3f} - {quartiles[2]:.3f}"},
        {"code": "today / baseline, ratio of the medians", unit: medians["today"] / medians["baseline"]},
    ]).set_index("code")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--baseline", default="385fba9", help="the commit whose training step is the baseline")
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    torch.set_flush_denormal(True)
    print(machine_description())
    counts = prepare_data(args.data).X
    print(f"{counts.shape[0]} cells x {counts.shape[1]} regions, batch {BATCH}, {HIDDEN} hidden units")
    print_table("decoder output product, median us", product_layouts(counts.shape[1], args.rounds))

    from atacflow import module, sparse_batches

    with tempfile.TemporaryDirectory() as folder:
        baseline_module, baseline_batches = load_library_at(args.baseline, folder)
        steps = interleaved({"baseline": step_timer(baseline_module, baseline_batches, counts),
                             "today": step_timer(module, sparse_batches, counts)}, args.rounds)
        epochs = interleaved({"baseline": minibatch_timer(baseline_batches, counts),
                              "today": minibatch_timer(sparse_batches, counts)}, args.rounds)
    print_table(f"training step, {args.rounds} interleaved rounds of {STEPS_PER_ROUND} steps",
                comparison_table(steps, args.baseline, "ms per step, median"))
    print_table(f"one epoch's minibatches ({counts.shape[0]} cells), {args.rounds} interleaved rounds",
                comparison_table(epochs, args.baseline, "ms per epoch, median"))


if __name__ == "__main__":
    main()
