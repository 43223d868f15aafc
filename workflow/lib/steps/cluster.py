"""Rule cluster: exact kNN graph of the latent and Leiden clusters."""

from ..clustering import cluster_latent
from ..provenance import record_step
from .files import read_h5ad, write_h5ad


def cluster(latent_path, params, seed, threads, output):
    adata = cluster_latent(read_h5ad(latent_path), seed=seed, n_jobs=threads, **params)
    write_h5ad(record_step(adata, "cluster", {**params, "seed": seed}), output)
