"""Rule condition_da: every configured condition comparison over all cells and within every cluster, with samples
(pseudobulks) as the units of replication."""

import logging
from pathlib import Path

import pandas as pd

from .. import plots
from ..errors import InputError
from ..keys import CLUSTER_KEY
from ..pseudobulk import ALL_CELLS, ConditionComparison, condition_table, pseudobulks
from .files import atomic_path, read_h5ad, write_tsv

log = logging.getLogger("atacflow")


def condition_tables(clusters_path, conditions, settings, output_dir, combined_output, volcano_outputs, threads=1):
    adata = read_h5ad(clusters_path)
    scopes = _scopes(adata.obs[CLUSTER_KEY].astype(str))
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    combined = []
    for entry, volcano in zip(conditions, volcano_outputs):
        comparison = ConditionComparison.from_config(entry)
        tables = {}
        for scope, cells in scopes.items():
            summed, units = pseudobulks(adata.X[cells], adata.obs[cells], comparison)
            table = condition_table(summed, units, adata.var_names, comparison, settings["min_cells"],
                                    settings["fdr"], scope, settings["lfc_shrink"], threads)
            if table is None:
                if scope == ALL_CELLS:
                    raise InputError(f"da.conditions {comparison.name}: fewer than 2 pseudobulks of at least "
                                     f"{settings['min_cells']} cells in a group over all cells; expected at least 2 "
                                     "samples per condition (da.comparisons gives a model-based, descriptive "
                                     "comparison of cells instead)")
                continue
            tables[scope] = table
            name = f"{comparison.name}__{scope}"
            write_tsv(table, output_dir / f"{name}.tsv")
            log.info("%s: %d of %d regions called at adjusted p < %s (%d vs %d pseudobulks)", name,
                     table[f"is_da_padj_{settings['fdr']}"].sum(), len(table), settings["fdr"],
                     table["n_pseudobulks1"].iloc[0], table["n_pseudobulks2"].iloc[0])
        combined += tables.values()
        with atomic_path(volcano) as temporary:
            plots.plot_volcanoes(tables, comparison.name, settings["fdr"], temporary)
    write_tsv(pd.concat(combined), combined_output)


def _scopes(clusters):
    """{scope: cells}: all cells, then each Leiden cluster as leiden_<k> (a boolean mask), in cluster order."""
    order = sorted(clusters.unique(), key=lambda v: (len(v), v))
    return {ALL_CELLS: slice(None), **{f"{CLUSTER_KEY}_{c}": (clusters == c).to_numpy() for c in order}}
