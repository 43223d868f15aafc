"""Profile atacflow's training (a few epochs) and DA (every cell type vs the rest, one-sided) on the Granja set.

Two views:
  1. torch.profiler (CPU): the aten operators that take the time, training epochs and DA separately;
     written to benchmarks/out/profile_torch_{train,da}.txt.
  2. py-spy (Python frames, sampling): run this script under py-spy in "raw" (collapsed stacks) format, then
     `summarize` the stacks by phase (training / DA) into self and inclusive time per function:

    .venv-bench/bin/py-spy record -r 100 -f raw -o benchmarks/out/pyspy.txt -- \
        .venv-bench/bin/python benchmarks/profile_ours.py run --epochs 3
    .venv-bench/bin/python benchmarks/profile_ours.py summarize benchmarks/out/pyspy.txt

    .venv-bench/bin/python benchmarks/profile_ours.py run --epochs 2 --torch-profiler
"""

import argparse
import collections
import re
import sys
import time
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import DEFAULT_DATA, OUT, prepare_data, set_threads  # noqa: E402

PHASES = {"train": ("_train_epoch", "evaluate"), "DA": ("differential_accessibility",)}


def run(args):
    import torch

    from atacflow.comparisons import cluster_comparisons
    from atacflow.da import DASettings, differential_accessibility, model_accessibility_blocks
    from atacflow.model import PoissonVI
    from atacflow.training import TrainingSettings

    set_threads()
    adata = prepare_data(args.data)
    model = PoissonVI(adata, device="cpu", seed=0)

    def profiler():
        if not args.torch_profiler:
            return nullcontext()
        return torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=False)

    with profiler() as prof:
        started = time.perf_counter()
        history = model.train(adata, TrainingSettings(max_epochs=args.epochs))
        print(f"train {args.epochs} epochs: {time.perf_counter() - started:.1f} s; per epoch "
              f"{history['seconds'].round(2).tolist()}", flush=True)
    if prof is not None:
        text = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25)
        (OUT / "profile_torch_train.txt").write_text(text)
        print(text)
    settings = DASettings()
    comparisons = cluster_comparisons(adata.obs, "cell_type", "one-sided")
    with profiler() as prof:
        started = time.perf_counter()
        differential_accessibility(model_accessibility_blocks(model, adata, settings), adata.X, adata.var_names,
                                   comparisons, settings)
        print(f"DA {len(comparisons)} comparisons: {time.perf_counter() - started:.1f} s", flush=True)
    if prof is not None:
        text = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25)
        (OUT / "profile_torch_da.txt").write_text(text)
        print(text)


FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _short(frame):
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    file = match["file"]
    for marker in ("site-packages/", "workflow/lib/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{match['function']} ({file})"


def summarize(path, top=15):
    """Self (leaf) and inclusive sample shares per function, per phase, from py-spy raw collapsed stacks."""
    totals = collections.Counter()
    self_time = {phase: collections.Counter() for phase in PHASES}
    inclusive = {phase: collections.Counter() for phase in PHASES}
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        count, frames = int(count), [_short(frame) for frame in stack.split(";")]
        names = [frame.split(" (")[0] for frame in frames]
        phase = next((p for p, keys in PHASES.items() if any(k in names for k in keys)), "other")
        totals[phase] += count
        if phase == "other":
            continue
        self_time[phase][frames[-1]] += count
        for frame in set(frames):
            inclusive[phase][frame] += count
    all_samples = sum(totals.values())
    print(f"samples: {all_samples}; " + ", ".join(f"{p} {n} ({n / all_samples:.0%})" for p, n in totals.items()))
    for phase in PHASES:
        n = totals[phase] or 1
        print(f"\n== {phase}: {totals[phase]} samples; top self (leaf Python frame) ==")
        for frame, count in self_time[phase].most_common(top):
            print(f"  {count / n:6.1%}  {frame}")
        print(f"== {phase}: top inclusive ==")
        for frame, count in inclusive[phase].most_common(top + 10):
            print(f"  {count / n:6.1%}  {frame}")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run")
    run_parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    run_parser.add_argument("--epochs", type=int, default=3)
    run_parser.add_argument("--torch-profiler", action="store_true")
    summary_parser = sub.add_parser("summarize")
    summary_parser.add_argument("path")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.command == "run":
        run(args)
    else:
        summarize(args.path)


if __name__ == "__main__":
    main()
