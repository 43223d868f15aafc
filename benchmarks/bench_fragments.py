"""Counting a fragments file into peaks and into 500 bp genome tiles: atacflow against SnapATAC2, side by side.

    .venv-bench/bin/python benchmarks/bench_fragments.py                                # 50M fragments, 3 rounds
    .venv-bench/bin/python benchmarks/bench_fragments.py --fragments 2000000 --rounds 1  # quick check

Data: the muon PBMC 10k multiome test set (../shared/data/muon_pbmc10k_multiome_1k_cells_174_peaks: 367,439
fragments of 24,508 barcodes, GRCh38) is *resampled* to --fragments N fragments: N fragments drawn uniformly with
replacement (seed 0; drawn chromosome by chromosome: the draws per chromosome are multinomial with the chromosomes'
shares of the file, then uniform among its fragments, which is the same distribution as N draws from the whole file),
each shifted by a random integer offset in [-200, 200] (start and end alike, so the length is kept; start clipped at
0), barcode kept, duplicate count 1, sorted by chromosome (file order) and start, written as gzip (level 6), 5
tab-separated columns, no index. Written once to benchmarks/out/fragments/ and reused.

Both tools count the 1,000 cells of barcodes.tsv.gz (the same whitelist) with SnapATAC2's bundled GRCh38 chrom sizes
(snapatac2.genome.GRCh38.chrom_sizes, no download; written to chrom.sizes for atacflow's tiles). Tasks:
- atacflow peaks / tiles: count_fragment_file(fragments, PeakRegions(174 peaks) or GenomeTiles(500, chrom sizes),
  cells).
- SnapATAC2 peaks / tiles: pp.import_fragments(fragments, chrom sizes, file=None (in memory), whitelist=cells,
  sorted_by_barcode=False, min_num_fragments=0), then pp.make_peak_matrix(use_rep=the peaks) or
  pp.add_tile_matrix(bin_size=500), both with counting_strategy="paired-insertion": SnapATAC2's name for atacflow's
  rule (a fragment counts once in each region holding one of its two cut sites). Its "fragment" strategy counts a
  fragment in every region its interval overlaps, another rule. SnapATAC2 2.9's import_fragments has no cut-site
  shift (shift_left/right belong to make_fragment_file, from BAM); it places the right cut site at end - 1 where
  atacflow takes end as written, so the matrices differ by the fragments whose end lies on a region boundary.
Each task runs in its own child process (this script with --child), so its peak resident memory (VmHWM) is its own;
the seconds are those of the counting (reading the file included, package imports excluded), each task reading the
file anew. Both use the machine's cores: OMP_NUM_THREADS (Arrow's thread pool), RAYON_NUM_THREADS and
POLARS_MAX_THREADS (SnapATAC2) are set to their number. Rounds interleave atacflow peaks, SnapATAC2 peaks, atacflow
tiles, SnapATAC2 tiles. Reported per task and tool: median seconds and range, fragments per second, peak memory, the
share of the machine's CPU other processes took meanwhile, and SnapATAC2 / atacflow seconds as the median of the
per-round ratios (min-max). The matrices of the first round are compared entry by entry.

Writes benchmarks/out/fragments/bench_fragments.md and .tsv (the table), bench_fragments_runs.tsv (every run).
"""

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "muon_pbmc10k_multiome_1k_cells_174_peaks"
OUT = REPO / "benchmarks" / "out" / "fragments"
COLUMNS = ["chrom", "start", "end", "barcode", "count"]
TOOLS = {"atacflow": "atacflow", "snapatac2": "SnapATAC2"}
TASKS = ("peaks", "tiles")
BIN_SIZE = 500
MAX_SHIFT = 200
SEED = 0
GZIP_LEVEL = 6  # bgzip's and Cell Ranger's default
WRITE_ROWS = 2_000_000  # rows formatted at a time while writing the resampled file
THREADS = len(os.sched_getaffinity(0))


def resampled_fragments(n_fragments):
    """Path of the file of `n_fragments` resampled fragments (see the module docstring), written if absent."""
    path = OUT / f"fragments_{n_fragments}.tsv.gz"
    if path.exists():
        return path
    source = pd.read_csv(DATA / "fragments.tsv.gz", sep="\t", header=None, names=COLUMNS, comment="#")
    barcode_codes, barcodes = pd.factorize(source["barcode"])
    blocks = list(source.groupby("chrom", sort=False).indices.items())  # chromosome -> rows, in file order
    rng = np.random.default_rng(SEED)
    draws = rng.multinomial(n_fragments, [len(rows) / len(source) for _, rows in blocks])
    partial = path.with_suffix(".partial")
    started = time.perf_counter()
    with gzip.open(partial, "wb", compresslevel=GZIP_LEVEL) as handle:
        for (chrom, rows), n in zip(blocks, draws):
            drawn = rows[rng.integers(0, len(rows), n)]
            shift = rng.integers(-MAX_SHIFT, MAX_SHIFT + 1, n)
            start = np.maximum(source["start"].to_numpy()[drawn] + shift, 0)
            end = np.maximum(source["end"].to_numpy()[drawn] + shift, start + 1)
            order = np.lexsort((end, start))
            _write_block(handle, chrom, start[order], end[order], barcode_codes[drawn[order]], barcodes)
    partial.rename(path)
    print(f"wrote {path} ({n_fragments:,} fragments) in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def _write_block(handle, chrom, start, end, barcode_codes, barcodes):
    """One chromosome's sorted fragments as 5-column TSV, WRITE_ROWS at a time (Arrow's CSV writer)."""
    import pyarrow as pa
    import pyarrow.csv as csv

    options = csv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
    dictionary = pa.array(barcodes.to_numpy(dtype=str))
    for first in range(0, len(start), WRITE_ROWS):
        rows = slice(first, first + WRITE_ROWS)
        n = len(start[rows])
        table = pa.table({
            "chrom": pa.array(np.full(n, chrom)), "start": start[rows], "end": end[rows],
            "barcode": pa.DictionaryArray.from_arrays(barcode_codes[rows].astype(np.int32), dictionary).cast(pa.string()),
            "count": np.ones(n, np.int64),
        })
        csv.write_csv(table, handle, options)


def write_chrom_sizes():
    """SnapATAC2's bundled GRCh38 chromosome lengths as chrom.sizes, the file both tools' children read."""
    from snapatac2.genome import GRCh38

    path = OUT / "GRCh38.chrom.sizes"
    path.write_text("".join(f"{name}\t{length}\n" for name, length in GRCh38.chrom_sizes.items()))
    return path


def child(tool, task, fragments, chrom_sizes, save):
    """Count, time, print one JSON line; with `save`, also write the matrix for the agreement check."""
    cells = pd.read_csv(DATA / "barcodes.tsv.gz", header=None)[0].tolist()
    count = count_atacflow if tool == "atacflow" else count_snapatac2
    counts, rows, columns, seconds = count(task, fragments, chrom_sizes, cells)
    result = {"tool": tool, "task": task, "seconds": seconds, "peak_rss_mib": peak_rss_mib(),
              "nonzeros": int(counts.nnz), "total": int(counts.sum())}
    if save:  # the regions holding a count only (SnapATAC2's tile matrix has a column for every tile)
        kept = np.flatnonzero(counts.getnnz(axis=0))
        counts = counts[:, kept].tocoo()
        np.savez_compressed(matrix_path(tool, task), row=counts.row, col=counts.col, data=counts.data,
                            rows=np.asarray(rows, str), columns=np.asarray(columns, str)[kept])
    print(json.dumps(result))


def count_atacflow(task, fragments, chrom_sizes, cells):
    from atacflow.fragment_counting import GenomeTiles, PeakRegions, count_fragment_file, read_chrom_sizes
    from atacflow.matrix_io import read_peaks_bed

    peaks_path = DATA / "peaks.bed.gz"
    regions = PeakRegions(read_peaks_bed(peaks_path), str(peaks_path)) if task == "peaks" else \
        GenomeTiles(BIN_SIZE, read_chrom_sizes(chrom_sizes))
    started = time.perf_counter()
    result = count_fragment_file(fragments, regions, cells)
    seconds = time.perf_counter() - started
    return result.counts, result.cells, result.regions.index, seconds


def count_snapatac2(task, fragments, chrom_sizes, cells):
    import snapatac2 as snap

    sizes = pd.read_csv(chrom_sizes, sep="\t", header=None, index_col=0)[1].to_dict()
    peaks = pd.read_csv(DATA / "peaks.bed.gz", sep="\t", header=None, names=COLUMNS[:3])
    names = (peaks["chrom"] + ":" + peaks["start"].astype(str) + "-" + peaks["end"].astype(str)).tolist()
    started = time.perf_counter()
    adata = snap.pp.import_fragments(str(fragments), sizes, file=None, min_num_fragments=0, sorted_by_barcode=False,
                                     whitelist=cells)
    if task == "peaks":
        adata = snap.pp.make_peak_matrix(adata, use_rep=names, counting_strategy="paired-insertion")
    else:
        snap.pp.add_tile_matrix(adata, bin_size=BIN_SIZE, counting_strategy="paired-insertion")
    seconds = time.perf_counter() - started
    return adata.X.tocsr(), adata.obs_names, adata.var_names, seconds


def peak_rss_mib():
    """This process's peak resident memory, VmHWM (as bench_common's, not imported from there: it imports torch)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM line in /proc/self/status")


def matrix_path(tool, task):
    return OUT / f"matrix_{tool}_{task}.npz"


def run_child(tool, task, fragments, chrom_sizes, save):
    """One task in a fresh interpreter; its JSON result plus the share of the machine's CPU other processes took."""
    from bench_common import _busy_cpu_s, _children_cpu_s  # bench_common imports torch: the parent only

    threads = str(THREADS)
    env = dict(os.environ, OMP_NUM_THREADS=threads, RAYON_NUM_THREADS=threads, POLARS_MAX_THREADS=threads)
    command = [sys.executable, __file__, "--child", tool, task, str(fragments), str(chrom_sizes)] + \
        (["--save"] if save else [])
    busy_before, child_before, started = _busy_cpu_s(), _children_cpu_s(), time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if finished.returncode != 0:
        raise SystemExit(f"{tool} {task} failed:\n{finished.stderr[-3000:]}")
    others = (_busy_cpu_s() - busy_before) - (_children_cpu_s() - child_before)
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    result["others_cpu_share"] = max(0.0, others) / (wall * THREADS)
    return result


def run_rounds(fragments, chrom_sizes, rounds):
    runs = []
    for round_number in range(1, rounds + 1):
        for task in TASKS:
            for tool in TOOLS:
                result = run_child(tool, task, fragments, chrom_sizes, save=round_number == 1)
                runs.append({"round": round_number, **result})
                print(f"round {round_number} {tool:9} {task}: {result['seconds']:.1f} s, "
                      f"{result['peak_rss_mib']:.0f} MiB, others' CPU {result['others_cpu_share']:.2f}", flush=True)
    return pd.DataFrame(runs)


def summary(runs, n_fragments):
    """One row per task and tool; SnapATAC2's rows carry the per-round ratio SnapATAC2 / atacflow of seconds."""
    seconds = runs.pivot_table(index=["task", "round"], columns="tool", values="seconds")
    ratios = (seconds["snapatac2"] / seconds["atacflow"]).groupby("task")
    rows = []
    for (task, tool), group in runs.groupby(["task", "tool"], sort=False):
        median = group["seconds"].median()
        ratio = "" if tool == "atacflow" else \
            f"{ratios.median()[task]:.2f} ({ratios.min()[task]:.2f}-{ratios.max()[task]:.2f})"
        rows.append({"task": task, "tool": TOOLS[tool], "median s": f"{median:.1f}",
                     "range s": f"{group['seconds'].min():.1f}-{group['seconds'].max():.1f}",
                     "M fragments/s": f"{n_fragments / median / 1e6:.2f}",
                     "peak MiB (max)": f"{group['peak_rss_mib'].max():.0f}",
                     "others' CPU share": f"{group['others_cpu_share'].median():.2f}",
                     "SnapATAC2 / atacflow s": ratio})
    return pd.DataFrame(rows)


def memory_growth(smaller_file, n_smaller, chrom_sizes, runs, n_larger):
    """atacflow's peak memory counting `n_smaller` fragments beside round 1's `n_larger`, per task."""
    rows = []
    for task in TASKS:
        small = run_child("atacflow", task, smaller_file, chrom_sizes, save=False)
        large = runs[(runs["tool"] == "atacflow") & (runs["task"] == task) & (runs["round"] == 1)].iloc[0]
        rows.append({"task": task, f"peak MiB, {n_smaller:,} fragments": f"{small['peak_rss_mib']:.0f}",
                     f"peak MiB, {n_larger:,} fragments": f"{large['peak_rss_mib']:.0f}",
                     "nonzeros": f"{small['nonzeros']:,} / {int(large['nonzeros']):,}"})
    return pd.DataFrame(rows)


def agreement(task):
    """The two tools' matrices of one task on the same cells and region names, compared entry by entry."""
    saved = [np.load(matrix_path(tool, task)) for tool in TOOLS]
    rows = pd.Index(saved[0]["rows"]).union(saved[1]["rows"])
    columns = pd.Index(saved[0]["columns"]).union(saved[1]["columns"])
    a, b = (_aligned(matrix, rows, columns) for matrix in saved)
    difference = abs(a - b)
    return {"task": task, "nonzeros atacflow": a.nnz, "nonzeros SnapATAC2": b.nnz, "total atacflow": int(a.sum()),
            "total SnapATAC2": int(b.sum()), "entries differing": difference.nnz,
            "sum of abs differences": int(difference.sum()),
            "per-cell totals r": f"{np.corrcoef(a.sum(axis=1).A1, b.sum(axis=1).A1)[0, 1]:.6f}"}


def _aligned(saved, rows, columns):
    """A saved matrix with the cells `rows` and regions `columns` (absent ones zero)."""
    import scipy.sparse as sp

    row = rows.get_indexer(saved["rows"])[saved["row"]]
    col = columns.get_indexer(saved["columns"])[saved["col"]]
    return sp.csr_matrix((saved["data"].astype(np.int64), (row, col)), shape=(len(rows), len(columns)))


def cells_share():
    """The share of the source file's fragments that belong to the 1,000 cells (the rest is read and discarded)."""
    source = pd.read_csv(DATA / "fragments.tsv.gz", sep="\t", header=None, names=COLUMNS, comment="#")
    cells = pd.read_csv(DATA / "barcodes.tsv.gz", header=None)[0]
    return source["barcode"].isin(cells).mean()


def markdown(table):
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(value) for value in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def machine_line():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (f"{time.strftime('%Y-%m-%d %H:%M %Z')} | {cpu} | {THREADS} cores, {THREADS} threads per tool | load "
            f"average {load} | snapatac2 {version('snapatac2')}, pyarrow {version('pyarrow')}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fragments", type=int, default=50_000_000, help="fragments of the resampled file")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smaller", type=int, default=5_000_000,
                        help="fragments of a second resampled file atacflow also counts, to show its memory does not "
                             "grow with the number of fragments")
    parser.add_argument("--child", nargs=4, metavar=("TOOL", "TASK", "FRAGMENTS", "CHROM_SIZES"), help=argparse.SUPPRESS)
    parser.add_argument("--save", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        tool, task, fragments, chrom_sizes = args.child
        child(tool, task, Path(fragments), Path(chrom_sizes), args.save)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    fragments, chrom_sizes = resampled_fragments(args.fragments), write_chrom_sizes()
    started = machine_line()
    runs = run_rounds(fragments, chrom_sizes, args.rounds)
    runs.to_csv(OUT / "bench_fragments_runs.tsv", sep="\t", index=False)
    table = summary(runs, args.fragments)
    table.to_csv(OUT / "bench_fragments.tsv", sep="\t", index=False)
    checks = pd.DataFrame([agreement(task) for task in TASKS])
    growth = memory_growth(resampled_fragments(args.smaller), args.smaller, chrom_sizes, runs, args.fragments)
    report = (f"machine: {started}\n\ndata: {fragments.name}: {args.fragments:,} fragments resampled from "
              f"{DATA.name}, 1,000 cells holding {cells_share():.1%} of the source's fragments; rounds: "
              f"{args.rounds}\n\n{markdown(table)}\n\n"
              f"agreement (first round; cells x regions, SnapATAC2's right cut site at end - 1, atacflow's at end)\n\n"
              f"{markdown(checks)}\n\natacflow's peak memory against the number of fragments (the same cells and "
              f"regions; the larger file's run is round 1's)\n\n{markdown(growth)}\n\nmachine at the end: "
              f"{machine_line()}\n")
    (OUT / "bench_fragments.md").write_text(report)
    print("\n" + report)


if __name__ == "__main__":
    main()
