"""Training benchmark: atacflow PoissonVI against scvi-tools 1.4.2 POISSONVI on the same data.

Both get the same fragments (ceil(reads / 2)), regions detected in >= 1% of cells, all cells, the same
hyper-parameters (the PoissonVI tutorial's: AdamW lr 1e-4, weight decay 1e-3, eps 1e-8, batch 128, KL
warm-up 50 epochs, early stopping on the validation reconstruction loss with patience 50, at most 500
epochs, n_hidden = int(sqrt(regions)), n_latent = int(sqrt(n_hidden))) and the same validation cells
(tool_scvi.py says what could not be matched). Each tool trains in its own spawned child process on the
CPU with 2 torch threads, one after the other.

Measured per tool: median seconds per epoch (training + validation), epochs run until early stopping, best
epoch, total training time, best validation reconstruction loss per cell (and that of the weights kept),
peak resident memory of the child; then the ratios scvi-tools / atacflow and the two targets
(>= 5x faster per epoch, issue 15's target; best validation loss no worse than scvi-tools' by more than 1%).

Run from the repository root:
    .venv-bench/bin/python benchmarks/bench_training.py [DATA_FOLDER] [--max-epochs N]
Writes benchmarks/out/training.tsv and the trained models to benchmarks/out/models/{ours,scvi}.
"""

import argparse

import pandas as pd

import tool_ours
from bench_common import DEFAULT_DATA, OUT, machine_description, prepare_data, print_table, run_in_child

SPEED_TARGET, LOSS_TOLERANCE = 5.0, 0.01
RATIO_COLUMNS = ["s_per_epoch", "s_per_epoch_p10", "cpu_s_per_epoch", "epochs", "best_epoch", "training_s",
                 "best_val_recon", "kept_weights_val_recon", "peak_rss_mib"]


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=DEFAULT_DATA, help=f"10x mtx folder (default {DEFAULT_DATA})")
    parser.add_argument("--max-epochs", type=int, default=500)
    return parser.parse_args()


def train_scvi(adata, max_epochs):
    """In the scvi child only: importing tool_scvi loads scvi-tools."""
    import tool_scvi

    return tool_scvi.train(adata, max_epochs)


def train_both(adata, max_epochs):
    rows = []
    for train in (tool_ours.train, train_scvi):
        row, others_cpu_share = run_in_child(train, adata, max_epochs)
        rows.append({**row, "others_cpu_share": others_cpu_share})
    return pd.DataFrame(rows).set_index("tool")


def with_ratios(table):
    ratio = table.loc["scvi-tools", RATIO_COLUMNS] / table.loc["atacflow", RATIO_COLUMNS]
    return pd.concat([table, ratio.rename("scvi-tools / atacflow").to_frame().T])


def target_lines(table):
    ours, scvi = table.loc["atacflow"], table.loc["scvi-tools"]
    speedup = scvi["s_per_epoch"] / ours["s_per_epoch"]
    loss_gap = ours["best_val_recon"] / scvi["best_val_recon"] - 1
    return [
        f"target per-epoch speed >= {SPEED_TARGET:g}x scvi-tools: {speedup:.2f}x -> "
        f"{'MET' if speedup >= SPEED_TARGET else 'NOT MET'}",
        f"target best validation reconstruction loss <= scvi-tools' + {LOSS_TOLERANCE:.0%}: "
        f"{ours['best_val_recon']:.2f} vs {scvi['best_val_recon']:.2f} ({loss_gap:+.2%}) -> "
        f"{'MET' if loss_gap <= LOSS_TOLERANCE else 'NOT MET'}",
    ]


def main():
    arguments = parse_arguments()
    print(f"machine: {machine_description()}")
    adata = prepare_data(arguments.data)
    print(f"data: {arguments.data}: {adata.n_obs} cells x {adata.n_vars} regions, {int(adata.X.sum())} fragments; "
          f"max_epochs {arguments.max_epochs}")
    table = train_both(adata, arguments.max_epochs)
    report = with_ratios(table).T
    OUT.mkdir(parents=True, exist_ok=True)
    report.to_csv(OUT / "training.tsv", sep="\t", index_label="measure")
    print_table("training (each tool in its own child process; losses per cell on the same validation cells)", report)
    print("\n".join(target_lines(table)))
    print(f"machine at the end: {machine_description()}")


if __name__ == "__main__":
    main()
