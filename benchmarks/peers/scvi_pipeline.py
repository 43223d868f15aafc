"""The scvi-tools 1.4 PoissonVI tutorial from a peak matrix, as its users run it: read, reads_to_fragments,
regions in >= 5% of cells, POISSONVI with its defaults, latent, scanpy neighbors, Leiden, UMAP, differential
accessibility of every cluster against the rest, a UMAP picture.
Usage: python scvi_pipeline.py MTX_FOLDER OUT_FOLDER [MAX_EPOCHS] (MAX_EPOCHS only for a quick check: default 500)"""

import sys
from pathlib import Path

import scanpy as sc
import scvi
import torch

from read_mtx import read_mtx_folder

folder, out = sys.argv[1], Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(2)
scvi.settings.seed = 0
adata = read_mtx_folder(folder)
scvi.data.reads_to_fragments(adata)
sc.pp.filter_genes(adata, min_cells=int(adata.n_obs * 0.05))
scvi.external.POISSONVI.setup_anndata(adata, layer="fragments")
model = scvi.external.POISSONVI(adata)
model.train(max_epochs=int(sys.argv[3]) if len(sys.argv) > 3 else 500, accelerator="cpu", enable_progress_bar=False)
adata.obsm["X_poissonvi"] = model.get_latent_representation()
sc.pp.neighbors(adata, use_rep="X_poissonvi", random_state=0)
sc.tl.leiden(adata, flavor="igraph", n_iterations=2, directed=False, random_state=0)
sc.tl.umap(adata, min_dist=0.2, random_state=0)
model.differential_accessibility(adata, groupby="leiden", two_sided=False, silent=True).to_csv(out / "da.tsv", sep="\t")
sc.pl.umap(adata, color="leiden", show=False, save=False).figure.savefig(out / "umap.png", dpi=100)
adata.write_h5ad(out / "clustered.h5ad")
