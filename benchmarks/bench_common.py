"""What both benchmark scripts share: the data preparation both tools get, the cell groups compared,
the machine description, and running one tool's work in a fresh child process."""

import multiprocessing
import os
import platform
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

from atacflow.annotations import join_cell_metadata
from atacflow.filtering import filter_cells_and_regions
from atacflow.fragments import to_fragments
from atacflow.matrix_io import read_peak_matrix

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "granja2019_bmmc_14k_cells_10k_peaks"
OUT = REPO / "benchmarks" / "out"
MODELS = {"ours": OUT / "models" / "ours", "scvi": OUT / "models" / "scvi"}
THREADS = 2
MIN_REGION_CELL_FRACTION = 0.01
NULL_GROUP = "11_CD14.Mono.1"
POWER_GROUPS = ("17_B", "11_CD14.Mono.1")
SEED = 0
TUTORIAL_LR = 1e-4  # the scvi-tools PoissonVI tutorial's learning rate; bench_training runs both tools at it
TUTORIAL_PATIENCE = 50  # scvi-tools' early-stopping patience, kept by bench_training for both tools


def prepare_data(folder):
    """Cells x regions fragments (ceil(reads / 2)), cell types from cells.tsv.gz, regions detected in
    >= int(1% of cells) cells; every cell kept. Adds the null split column (see `add_null_split`)."""
    adata = read_peak_matrix(folder)
    to_fragments(adata, "auto")
    adata.obs = join_cell_metadata(adata.obs, Path(folder) / "cells.tsv.gz")
    adata, _ = filter_cells_and_regions(adata, MIN_REGION_CELL_FRACTION, 0, 0)
    adata.obs["null_split"] = null_split_labels(adata.obs["cell_type"].to_numpy())
    return adata


def null_split_labels(cell_types):
    """'A' / 'B' for the NULL_GROUP cells cut at random (seed 0) into halves; None for all other cells."""
    cells = np.flatnonzero(cell_types == NULL_GROUP)
    half_a = np.random.default_rng(SEED).permutation(cells)[: len(cells) // 2]
    labels = np.full(len(cell_types), None, dtype=object)
    labels[cells] = "B"
    labels[half_a] = "A"
    return labels


def set_threads():
    torch.set_num_threads(THREADS)


def peak_rss_mib():
    """This process's peak resident memory, VmHWM of /proc/self/status. (ru_maxrss would not do: Linux
    carries the parent's peak into a child across fork + exec.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM line in /proc/self/status")


def run_in_child(function, *args):
    """function(*args) in a freshly spawned process with THREADS torch threads, so that its peak memory
    is its own. Returns its result and the share of the machine's CPU time that went to other processes
    meanwhile (0: the child had the machine to itself; the machine is shared with other work)."""
    context = multiprocessing.get_context("spawn")
    busy_before, child_before, started = _busy_cpu_s(), _children_cpu_s(), time.perf_counter()
    with ProcessPoolExecutor(1, mp_context=context, initializer=set_threads) as pool:
        result = pool.submit(function, *args).result()
    wall = time.perf_counter() - started
    others = (_busy_cpu_s() - busy_before) - (_children_cpu_s() - child_before)
    return result, max(0.0, others) / (wall * len(os.sched_getaffinity(0)))


def _busy_cpu_s():
    """Machine-wide non-idle CPU seconds (user, nice, system, irq, softirq, steal) from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _children_cpu_s():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_description():
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{time.strftime('%Y-%m-%d %H:%M %Z')} | {platform.node()} | {cpu} | "
        f"{len(os.sched_getaffinity(0))} cores usable, "
        f"no GPU used, torch threads {THREADS} | load average (1, 5, 15 min) {load} | torch {torch.__version__}, "
        f"scvi-tools {version('scvi-tools')}"
    )


def print_table(title, table):
    print(f"\n{title}")
    print(table.to_string(float_format=lambda value: f"{value:.4g}"))
