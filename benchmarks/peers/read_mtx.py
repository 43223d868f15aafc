"""The plain anndata/pandas read a scanpy or SnapATAC2 user writes for a Cell Ranger ATAC mtx folder with
peaks.bed (sc.read_10x_mtx wants genes.tsv/features.tsv, so it cannot read these folders)."""

from pathlib import Path

import anndata as ad
import pandas as pd


def read_mtx_folder(folder):
    folder = Path(folder)
    adata = ad.io.read_mtx(folder / "matrix.mtx.gz").T.copy()
    adata.X = adata.X.tocsr()
    adata.obs_names = pd.read_csv(folder / "barcodes.tsv.gz", header=None)[0].astype(str).to_numpy()
    peaks = pd.read_csv(folder / "peaks.bed.gz", sep="\t", header=None)
    adata.var_names = (peaks[0] + ":" + peaks[1].astype(str) + "-" + peaks[2].astype(str)).to_numpy()
    return adata
