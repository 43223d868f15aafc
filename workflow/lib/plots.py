"""Figures for the report: training curves, UMAP by cluster, top DA regions."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]
# scatter points, one per cell or region: rasterized, and without marker edges, which are drawn point by point
POINTS = {"rasterized": True, "edgecolors": "none"}


def palette(n):
    """Okabe-Ito (colorblind-safe) for up to 8 groups, else matplotlib's tab20."""
    return OKABE_ITO[:n] if n <= len(OKABE_ITO) else [plt.cm.tab20(i % 20) for i in range(n)]


def plot_training_history(history, best_epoch, path, activity=None):
    """Losses and KL per epoch; `activity` (model.latent_activity) is stated above them, in red when the latent
    space collapsed."""
    figure, (loss_axis, kl_axis) = plt.subplots(1, 2, figsize=(10, 4.4))
    if activity:
        n_active, n_latent = activity["n_active_latent_dimensions"], len(activity["latent_dimension_variances"])
        text = (f"{n_active} of {n_latent} latent dimensions active (variance of the posterior means across cells > "
                f"{activity['active_variance_threshold']:g})")
        collapsed = activity["latent_collapsed"]
        figure.suptitle(f"WARNING: latent collapse. {text}" if collapsed else text, color="red" if collapsed else "black")
    loss_axis.plot(history["epoch"], history["train_loss"], label="train loss (recon + beta KL)")
    loss_axis.plot(history["epoch"], history["validation_reconstruction_loss"], label="validation reconstruction")
    loss_axis.axvline(best_epoch, color="grey", linestyle="--", label=f"best epoch {best_epoch} (restored)")
    loss_axis.set(xlabel="epoch", ylabel="loss per cell", title="PoissonVI training")
    loss_axis.legend()
    kl_axis.plot(history["epoch"], history["validation_kl"], label="validation KL")
    kl_axis.plot(history["epoch"], history["beta"] * history["validation_kl"].max(), linestyle=":", label="beta (scaled)")
    kl_axis.set(xlabel="epoch", ylabel="KL per cell", title="KL and warm-up")
    kl_axis.legend()
    _save(figure, path)


def plot_umap(adata, columns, path):
    """One UMAP panel per annotation column (categorical); points drawn in a random order (seeded), so that no
    category hides another by being drawn last."""
    figure, axes = plt.subplots(1, len(columns), figsize=(6.5 * len(columns), 5.5), squeeze=False)
    umap = adata.obsm["X_umap"]
    order = np.random.default_rng(0).permutation(adata.n_obs)
    for axis, column in zip(axes[0], columns):
        values = adata.obs[column].astype(str).to_numpy()
        categories = sorted(set(values), key=lambda v: (len(v), v))
        colors = palette(len(categories))
        codes = pd.Categorical(values[order], categories=categories).codes
        axis.scatter(umap[order, 0], umap[order, 1], s=3, c=matplotlib.colors.to_rgba_array(colors)[codes], **POINTS)
        handles = [plt.Line2D([], [], marker="o", linestyle="", color=color, label=category)
                   for category, color in zip(categories, colors)]
        axis.set(title=column, xlabel="UMAP1", ylabel="UMAP2", xticks=[], yticks=[])
        axis.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5), frameon=False)
    _save(figure, path)


def plot_cells_per_cluster(cells, mixing, path):
    """Left: cells per cluster, stacked by sample; right: each cluster's cells as shares of the samples."""
    figure, (counts_axis, shares_axis) = plt.subplots(1, 2, figsize=(12, 4.5))
    clusters, colors = [str(c) for c in cells.index], palette(cells.shape[1])
    shares = cells.div(cells.sum(axis=1), axis=0)
    for axis, values in ((counts_axis, cells), (shares_axis, shares)):
        bottom = np.zeros(len(cells))
        for sample, color in zip(cells.columns, colors):
            axis.bar(clusters, values[sample].to_numpy(), bottom=bottom, color=color, label=str(sample))
            bottom += values[sample].to_numpy()
        axis.set(xlabel="Leiden cluster")
    counts_axis.set(ylabel="cells", title="Cells per cluster and sample")
    shares_axis.set(ylabel="share of the cluster's cells", title=f"Sample shares (batch mixing {mixing:.2f})")
    shares_axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5), frameon=False)
    _save(figure, path)


def plot_volcanoes(tables, title, fdr, path):
    """One volcano panel per scope (all cells, then clusters): log2 fold change against -log10 adjusted p-value,
    called regions (adjusted p < fdr) in colour."""
    n_columns = min(4, len(tables))
    n_rows = int(np.ceil(len(tables) / n_columns))
    figure, axes = plt.subplots(n_rows, n_columns, figsize=(4 * n_columns, 3.6 * n_rows), squeeze=False)
    for axis, (scope, table) in zip(axes.ravel(), tables.items()):
        padj = table["padj"].fillna(1.0).clip(lower=1e-300)
        called = (table["padj"] < fdr).fillna(False).to_numpy()
        axis.scatter(table["log2FoldChange"][~called], -np.log10(padj[~called]), s=3, color="#999999", **POINTS)
        axis.scatter(table["log2FoldChange"][called], -np.log10(padj[called]), s=4, color=OKABE_ITO[5], **POINTS)
        units = f"{table['n_pseudobulks1'].iloc[0]} vs {table['n_pseudobulks2'].iloc[0]} pseudobulks"
        axis.set(title=f"{table['scope'].iloc[0]}: {called.sum()} called\n({units})", xlabel="log2 fold change",
                 ylabel="-log10 adjusted p")
        axis.axhline(-np.log10(fdr), color="grey", linestyle=":", linewidth=0.8)
    for axis in axes.ravel()[len(tables):]:
        axis.axis("off")
    figure.suptitle(f"{title} (samples as replicates)")
    _save(figure, path)


def top_regions(tables, n_per_group):
    """The first `n_per_group` called regions of each comparison (tables are sorted by evidence)."""
    chosen = []
    for table in tables.values():
        for region in table.index[: n_per_group]:
            if region not in chosen:
                chosen.append(region)
    return chosen


def plot_top_regions_dotplot(tables, n_per_group, path):
    """Rows: comparisons; columns: their top regions; size: emp_prob1; color: lfc_mean vs the rest."""
    regions = top_regions(tables, n_per_group)
    names = list(tables)
    figure, axis = plt.subplots(figsize=(max(6, 0.35 * len(regions) + 3), max(3, 0.4 * len(names) + 2)))
    lfc = np.array([[tables[name].at[region, "lfc_mean"] for region in regions] for name in names])
    detected = np.array([[tables[name].at[region, "emp_prob1"] for region in regions] for name in names])
    xs, ys = np.meshgrid(np.arange(len(regions)), np.arange(len(names)))
    limit = max(np.abs(lfc).max(), 1e-6)
    dots = axis.scatter(xs.ravel(), ys.ravel(), s=200 * detected.ravel() + 2, c=lfc.ravel(), cmap="RdBu_r",
                        vmin=-limit, vmax=limit)
    axis.set_xticks(range(len(regions)), regions, rotation=90, fontsize=7)
    axis.set_yticks(range(len(names)), names, fontsize=8)
    figure.colorbar(dots, ax=axis, label="lfc_mean (log2, group vs rest)")
    axis.set_title("Top DA regions per group (dot size: fraction of cells with a fragment)")
    _save(figure, path)


def plot_umap_region_fragments(adata, regions, path):
    """UMAPs coloured by log1p fragments of the given regions ({panel title: region})."""
    n_columns = min(4, len(regions))
    n_rows = int(np.ceil(len(regions) / n_columns))
    figure, axes = plt.subplots(n_rows, n_columns, figsize=(4 * n_columns, 3.6 * n_rows), squeeze=False)
    umap = adata.obsm["X_umap"]
    # the regions are the DA tables' own, names of this matrix; one slice for every panel, not one per region
    columns = adata.X[:, adata.var_names.get_indexer(list(regions.values()))].toarray()
    for axis, (title, region), column in zip(axes.ravel(), regions.items(), columns.T):
        fragments = np.log1p(column)
        order = np.argsort(fragments)
        points = axis.scatter(umap[order, 0], umap[order, 1], c=fragments[order], s=2, cmap="viridis", **POINTS)
        axis.set(title=f"{title}\n{region}", xticks=[], yticks=[])
        figure.colorbar(points, ax=axis, label="log1p fragments")
    for axis in axes.ravel()[len(regions):]:
        axis.axis("off")
    _save(figure, path)


def plot_fragment_qc(lengths, qc, sample, thresholds, path):
    """Left: the fragment-length histogram (the nucleosome ladder: nucleosome-free under 147 bp, then mono- and
    di-nucleosomal peaks near 200 and 400 bp). Right: unique fragments against FRiP per cell, with the filters; for
    genome tiles (no FRiP: tiles hold every fragment) the distribution of unique fragments per cell."""
    figure, (length_axis, cell_axis) = plt.subplots(1, 2, figsize=(11, 4))
    shown = lengths[lengths["length"] < lengths["length"].max()]
    length_axis.plot(shown["length"], shown["n_fragments"] / max(lengths["n_fragments"].sum(), 1), color=OKABE_ITO[4])
    for boundary in (147, 294):
        length_axis.axvline(boundary, color="grey", linestyle=":")
    length_axis.set(xlabel="fragment length (bp)", ylabel="share of the cells' fragments",
                    title=f"{sample}: fragment lengths")
    unique = qc["n_unique_fragments"].clip(lower=1)
    if qc["frip"].notna().any():
        cell_axis.scatter(unique, qc["frip"], s=4, color=OKABE_ITO[0], **POINTS)
        cell_axis.set(ylabel="FRiP")
        if thresholds["min_cell_frip"]:
            cell_axis.axhline(thresholds["min_cell_frip"], color="grey", linestyle="--")
    else:
        cell_axis.hist(unique, bins=np.geomspace(unique.min(), unique.max() + 1, 40), color=OKABE_ITO[0])
        cell_axis.set(ylabel="cells")
    cell_axis.set_xscale("log")
    if thresholds["min_cell_unique_fragments"]:
        cell_axis.axvline(thresholds["min_cell_unique_fragments"], color="grey", linestyle="--")
    cell_axis.set(xlabel="unique fragments per cell", title=f"{sample}: {len(qc)} cells")
    _save(figure, path)


def _save(figure, path):
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
