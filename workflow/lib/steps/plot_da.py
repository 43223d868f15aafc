"""Rule plot_da: dot plot of the top DA regions per cluster, and UMAPs of their fragments."""

import pandas as pd

from .. import plots
from ..keys import CLUSTER_KEY
from .clustered import read_clustered
from .files import atomic_path


def plot_da(clusters_path, umap_path, combined_path, n_top_regions, dotplot_output, umap_output):
    adata = read_clustered(clusters_path, umap_path)
    combined = pd.read_csv(combined_path, sep="\t", index_col="region")
    clusters = combined[(combined["groupby"] == CLUSTER_KEY) & (combined["group2"] == "rest")]
    tables = {name: table for name, table in clusters.groupby("comparison", sort=False)}
    with atomic_path(dotplot_output) as temporary:
        plots.plot_top_regions_dotplot(tables, n_top_regions, temporary)
    with atomic_path(umap_output) as temporary:
        top_region_of = {name: table.index[0] for name, table in list(tables.items())[:12]}
        plots.plot_umap_region_fragments(adata, top_region_of, temporary)
