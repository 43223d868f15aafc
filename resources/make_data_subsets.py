"""Write the real-data subsets committed in this repo from ../shared/data (run once; output is committed).

    python resources/make_data_subsets.py ../shared/data

- resources/demo/granja_bmmc_2k/: 2,000 cells drawn at random (seed 0) from the Granja et al. 2019 bone
  marrow set, all 10,000 peaks, with the cell annotation (cell type, donor) as cells.tsv.gz. The source's
  `sample` column (the donor) is written as `donor`: `sample` is the workflow's own column.
- tests/data/granja_bmmc_1k/: 1,000 other random cells of the same set (seed 1), same layout.
- tests/data/granja_two_donors/<donor>/: the same 1,000 cells split by donor into two Cell Ranger folders with
  the same peaks (270 and 730 cells): a two-sample study.
- tests/data/pbmc_unsorted_peaks.h5 (+ metadata): the second BPCells sample, whose peaks differ from the sorted one's.
- tests/data/pbmc_sorted_mtx/: the BPCells sorted PBMC Cell Ranger .h5 written as an mtx folder, so the
  two readers can be compared on the same data; the .h5 itself is copied beside it.
- tests/data/signac_atac_small/: the Signac 100-cell mtx folder, copied.
"""

import gzip
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]


def write_mtx_folder(folder, counts_cells_by_regions, barcodes, peaks_bed_lines, cells=None):
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "matrix.mtx.gz", "wb") as handle:
        scipy.io.mmwrite(handle, sp.coo_matrix(counts_cells_by_regions.T), field="integer")
    with gzip.open(folder / "barcodes.tsv.gz", "wt") as handle:
        handle.write("".join(f"{b}\n" for b in barcodes))
    with gzip.open(folder / "peaks.bed.gz", "wt") as handle:
        handle.write("".join(peaks_bed_lines))
    if cells is not None:
        cells.to_csv(folder / "cells.tsv.gz", sep="\t", index=False, compression="gzip")


def granja_subset(source, target, n_cells, seed, exclude=()):
    counts = sp.csr_matrix(scipy.io.mmread(source / "matrix.mtx.gz").T)
    cells = pd.read_csv(source / "cells.tsv.gz", sep="\t")
    with gzip.open(source / "peaks.bed.gz", "rt") as handle:
        peaks = handle.readlines()
    candidates = np.setdiff1d(np.arange(len(cells)), np.asarray(list(exclude), dtype=int))
    chosen = np.sort(np.random.default_rng(seed).choice(candidates, n_cells, replace=False))
    subset = cells.iloc[chosen][["cell", "sample", "cell_type", "frip", "total_reads"]].rename(columns={"sample": "donor"})
    write_mtx_folder(target, counts[chosen], subset["cell"], peaks, subset)
    return chosen


def split_by_donor(folder, target):
    """One Cell Ranger folder per donor of a written Granja subset, with the same peaks."""
    counts = sp.csr_matrix(scipy.io.mmread(folder / "matrix.mtx.gz").T)
    cells = pd.read_csv(folder / "cells.tsv.gz", sep="\t")
    with gzip.open(folder / "peaks.bed.gz", "rt") as handle:
        peaks = handle.readlines()
    for donor, rows in cells.groupby("donor").indices.items():
        write_mtx_folder(target / donor, counts[rows], cells["cell"].iloc[rows], peaks, cells.iloc[rows])


def h5_to_mtx(h5_path, target):
    sys.path.insert(0, str(ROOT / "workflow"))
    from lib.matrix_io import read_peak_matrix

    adata = read_peak_matrix(h5_path)
    lines = [f"{c}\t{s}\t{e}\n" for c, s, e in adata.var[["chrom", "start", "end"]].itertuples(index=False)]
    write_mtx_folder(target, adata.X, adata.obs_names, lines)
    shutil.copy(h5_path, target.parent / h5_path.name)


def main(shared_data):
    shared_data = Path(shared_data)
    granja = shared_data / "granja2019_bmmc_14k_cells_10k_peaks"
    demo = granja_subset(granja, ROOT / "resources/demo/granja_bmmc_2k", 2000, seed=0)
    granja_subset(granja, ROOT / "tests/data/granja_bmmc_1k", 1000, seed=1, exclude=demo)
    split_by_donor(ROOT / "tests/data/granja_bmmc_1k", ROOT / "tests/data/granja_two_donors")
    h5_to_mtx(shared_data / "bpcells_pbmc3k_multiome_sorted_unsorted/pbmc_sorted_peaks.h5", ROOT / "tests/data/pbmc_sorted_mtx")
    bpcells = shared_data / "bpcells_pbmc3k_multiome_sorted_unsorted"
    for name in ("pbmc_sorted_metadata.csv", "pbmc_unsorted_peaks.h5", "pbmc_unsorted_metadata.csv"):
        shutil.copy(bpcells / name, ROOT / "tests/data")
    shutil.copytree(shared_data / "signac_atac_small_pbmc10k", ROOT / "tests/data/signac_atac_small",
                    ignore=shutil.ignore_patterns("fragments*"), dirs_exist_ok=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "shared/data")
