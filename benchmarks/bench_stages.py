"""Per-stage wall time, CPU time and peak memory inside one child process, and the Leiden resolution search
that bench_pipeline.py and bench_scale.py share.

Peak memory per stage: at the start of each stage the process's peak resident set (VmHWM) is reset to its
current resident set by writing 5 to /proc/self/clear_refs (Linux >= 4.0), so the VmHWM read at the end of
the stage is the highest resident memory *during* that stage (it includes what earlier stages left resident,
e.g. the matrix). The whole pipeline's peak is the largest stage peak.
"""

import os
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from bench_common import peak_rss_mib

TARGET_CLUSTERS = 16


def reset_peak_rss():
    Path("/proc/self/clear_refs").write_text("5")


def current_rss_mib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Stages:
    """Collects one row per stage: seconds, cpu_s, peak_rss_mib, rss at the end, 1-min load average at start/end."""

    def __init__(self, tool):
        self.tool, self.rows, self.extra = tool, [], {}
        self.born = time.perf_counter()

    @contextmanager
    def stage(self, name):
        reset_peak_rss()
        load_start = os.getloadavg()[0]
        cpu, started = time.process_time(), time.perf_counter()
        yield
        self.rows.append({
            "tool": self.tool, "stage": name, "seconds": time.perf_counter() - started,
            "cpu_s": time.process_time() - cpu, "peak_rss_mib": peak_rss_mib(), "rss_end_mib": current_rss_mib(),
            "load1_start": load_start, "load1_end": os.getloadavg()[0],
        })

    def result(self):
        return {"tool": self.tool, "stages": self.rows, "extra": self.extra}


def search_resolution(run_leiden, n_target=TARGET_CLUSTERS, low=0.01, high=3.0, first=1.0, max_runs=25):
    """Bisection on the Leiden resolution until `run_leiden(resolution)` (returns labels) gives `n_target`
    clusters; the same rule for every method. Returns (labels, resolution, n_clusters, n_runs). Without an
    exact hit after `max_runs`, the run closest to the target (then the lowest resolution) is kept."""
    tried, resolution = [], first
    for _ in range(max_runs):
        labels = np.asarray(run_leiden(resolution))
        n = len(np.unique(labels))
        tried.append((abs(n - n_target), resolution, n, labels))
        if n == n_target:
            break
        if n < n_target:
            low = resolution
        else:
            high = resolution
        resolution = (low + high) / 2
    _, resolution, n, labels = min(tried, key=lambda item: (item[0], item[1]))
    return labels, resolution, n, len(tried)


def label_scores(labels, truth):
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    truth = np.asarray(truth).astype(str)
    return {"ARI": adjusted_rand_score(truth, labels), "NMI": normalized_mutual_info_score(truth, labels)}


def ours_da_stage(stages, model, adata, groupby):
    """Stage "DA": every group of `groupby` against the rest, one-sided, default DASettings; counts the calls."""
    from atacflow.comparisons import cluster_comparisons
    from atacflow.da import DASettings, differential_accessibility, model_accessibility_blocks

    with stages.stage("DA"):
        settings = DASettings()
        comparisons = cluster_comparisons(adata.obs, groupby, "one-sided")
        tables = differential_accessibility(model_accessibility_blocks(model, adata, settings), adata.X,
                                            adata.var_names, comparisons, settings)
    calls = f"is_da_fdr_{settings.fdr_target}"
    stages.extra.update({"da_comparisons": len(tables), "da_calls": int(sum(t[calls].sum() for t in tables.values()))})
