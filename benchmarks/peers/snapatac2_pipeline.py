"""SnapATAC2 2.9 from a peak matrix, as its users run it: read, features, spectral embedding, kNN, Leiden, UMAP,
marker regions, a UMAP picture. Usage: python snapatac2_pipeline.py MTX_FOLDER OUT_FOLDER"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import snapatac2 as snap  # noqa: E402

from read_mtx import read_mtx_folder  # noqa: E402

folder, out = sys.argv[1], Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
adata = read_mtx_folder(folder)
snap.pp.select_features(adata, n_features=adata.n_vars, verbose=False)
snap.tl.spectral(adata, random_state=0)
snap.pp.knn(adata, random_state=0)
snap.tl.leiden(adata, random_state=0)
snap.tl.umap(adata, random_state=0)
markers = snap.tl.marker_regions(adata, groupby="leiden", pvalue=0.01)
pd.concat({cluster: pd.Series(regions) for cluster, regions in markers.items()}).to_csv(out / "markers.tsv", sep="\t")
codes = adata.obs["leiden"].astype("category").cat.codes
plt.scatter(*adata.obsm["X_umap"].T, c=codes, s=1, cmap="tab20")
plt.savefig(out / "umap.png", dpi=100)
adata.write_h5ad(out / "clustered.h5ad")
