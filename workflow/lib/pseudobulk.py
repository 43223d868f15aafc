"""Conditions compared with samples as replicates: pseudobulk counts and a negative-binomial GLM per region.

Cells of one sample are not independent replicates of a condition (Squair et al. 2021): tests that treat them so
call hundreds of regions between groups that do not differ. Here the unit is the sample. Within a scope (all cells,
or one cluster), the fragments of the cells of each sample and condition value are summed,

    y_{u r} = sum_{n in u} x_{n r},   u = (sample, condition value),

pseudobulks of fewer than `min_cells` cells are left out, and each region gets the DESeq2 model (PyDESeq2):
y_ur ~ NB(mu_ur, alpha_r), log mu_ur = log s_u + (design_u . beta_r), design ~ covariates + condition, s_u the
size factors for sequencing depth (DESeq2's `poscounts`, robust to the many zeros of sparse pseudobulks), alpha_r
the dispersion shrunk towards its trend. The Wald test of the condition coefficient gives the p-value, Benjamini-
Hochberg the adjusted p-value, and apeGLM shrinkage a shrunken log2 fold change (group1 over group2).
"""

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import InputError

log = logging.getLogger(__name__)
ALL_CELLS = "all"


@dataclass(frozen=True)
class ConditionComparison:
    """group1 vs group2 of `column`, with `covariates` in the design."""

    column: str
    group1: str
    group2: str
    covariates: tuple = ()

    @property
    def name(self):
        return f"{self.column}_{self.group1}_vs_{self.group2}".replace("/", "-").replace(" ", "-")

    @classmethod
    def from_config(cls, entry):
        return cls(entry["column"], str(entry["group1"]), str(entry["group2"]), tuple(entry.get("covariates", ())))

    def check_covariates(self, key):
        """A covariate cannot be the compared column itself, nor a name the pseudobulk table uses."""
        clashing = [c for c in self.covariates if c in (self.column, "condition", "n_cells")]
        if clashing:
            raise InputError(f"config {key}: covariates {clashing} are the compared column {self.column!r} or names "
                             "the pseudobulk table uses (condition, n_cells); expected other annotation columns")


def pseudobulks(counts, obs, comparison, sample_key="sample"):
    """Pseudobulk counts (units x regions) and their table (sample, condition, covariates, n_cells) for the cells
    of `obs` in either group; a unit is one sample and condition value."""
    values = obs[comparison.column].astype("string")
    chosen = values.isin([comparison.group1, comparison.group2]).fillna(False).to_numpy()
    keys = [sample_key, comparison.column]
    covariates = [c for c in comparison.covariates if c not in keys]
    cells = obs.loc[chosen, [*keys, *covariates]].astype({key: str for key in keys})
    units = cells.groupby(keys, sort=True, observed=True)
    for covariate in covariates:
        varying = units[covariate].nunique()
        if (varying > 1).any():
            raise InputError(f"da.conditions {comparison.name}: covariate {covariate!r} varies within sample "
                             f"{varying.index[varying > 1][0][0]!r}; expected a sample-level covariate")
    table = units.first().reset_index() if covariates else units.size().reset_index()[keys]
    table["n_cells"] = units.size().to_numpy()
    codes = units.ngroup().to_numpy()
    membership = sp.csr_matrix((np.ones(len(codes)), (codes, np.flatnonzero(chosen))),
                               shape=(len(table), counts.shape[0]))
    summed = sp.csr_matrix(membership @ counts)
    return summed, table.rename(columns={comparison.column: "condition"})


def condition_table(summed, units, regions, comparison, min_cells, fdr, scope, shrink=True, n_cpus=1):
    """One table of per-region statistics for `comparison` within `scope`, or None when it cannot be tested there
    (a group with fewer than 2 pseudobulks of at least `min_cells` cells), with the reason logged. The per-region
    fits run in `n_cpus` processes (each region's fit is independent, so the table does not depend on it)."""
    kept = (units["n_cells"] >= min_cells).to_numpy()
    for unit in units[~kept].itertuples():
        log.info("%s, %s: pseudobulk of sample %s, %s = %s left out: %d cells < %d", comparison.name, scope,
                 unit.sample, comparison.column, unit.condition, unit.n_cells, min_cells)
    units, summed = units[kept].reset_index(drop=True), summed[np.flatnonzero(kept)]
    per_group = units["condition"].value_counts()
    if min(per_group.get(comparison.group1, 0), per_group.get(comparison.group2, 0)) < 2:
        log.info("%s, %s: not tested: pseudobulks per group %s; expected at least 2 in each", comparison.name, scope,
                 per_group.to_dict())
        return None
    try:
        check_design(units, comparison)
    except InputError as error:
        if scope == ALL_CELLS:
            raise
        log.info("%s, %s: not tested: %s", comparison.name, scope, error)
        return None
    table = _deseq(summed, units, regions, comparison, shrink, n_cpus)
    table[f"is_da_padj_{fdr}"] = (table["padj"] < fdr).fillna(False)
    for number, group in ((1, comparison.group1), (2, comparison.group2)):
        members = units["condition"] == group
        table[f"n_samples{number}"] = units.loc[members, "sample"].nunique()
        table[f"n_pseudobulks{number}"] = int(members.sum())
        table[f"n_cells{number}"] = int(units.loc[members, "n_cells"].sum())
    table.insert(0, "scope", scope)
    table.insert(0, "comparison", comparison.name)
    table["column"], table["group1"], table["group2"] = comparison.column, comparison.group1, comparison.group2
    table["covariates"] = ",".join(comparison.covariates)
    return table.sort_values("pvalue", na_position="last")


def check_design(units, comparison):
    """The design ~ covariates + condition must have full column rank (a covariate confounded with the condition,
    the same split of the pseudobulks, leaves the condition effect unidentifiable) and leave at least one residual
    degree of freedom (more pseudobulks than coefficients) to estimate the dispersions."""
    design = design_matrix(units, comparison)
    rank = np.linalg.matrix_rank(design.to_numpy(dtype=float))
    if rank < design.shape[1]:
        raise InputError(
            f"da.conditions {comparison.name}: covariates {list(comparison.covariates)} are confounded with "
            f"{comparison.column} over the pseudobulks (samples {sorted(units['sample'])}); expected covariates that "
            "vary within each condition (e.g. donors seen in both)"
        )
    if len(units) <= rank:
        raise InputError(
            f"da.conditions {comparison.name}: {len(units)} pseudobulks for {rank} coefficients (intercept, "
            f"covariates {list(comparison.covariates)}, condition) leave no residual degree of freedom; expected more "
            "samples, or fewer covariates"
        )


def design_matrix(units, comparison):
    """Intercept, one-hot covariates (first level dropped) and the condition indicator (group1 = 1)."""
    covariates = pd.get_dummies(units[list(comparison.covariates)].astype(str), drop_first=True, dtype=float) \
        if comparison.covariates else pd.DataFrame(index=units.index)
    return pd.concat([pd.Series(1.0, index=units.index, name="intercept"), covariates,
                      (units["condition"] == comparison.group1).astype(float).rename("condition")], axis=1)


def _deseq(summed, units, regions, comparison, shrink, n_cpus):
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    regions = np.asarray(regions)
    counts = pd.DataFrame(summed.toarray().astype(np.int64), columns=regions)
    detected = (counts.sum(axis=0) > 0).to_numpy()
    metadata = pd.DataFrame({f"covariate{i}": units[c].to_numpy() for i, c in enumerate(comparison.covariates)})
    # "reference" sorts before "tested", so the condition coefficient is group1 over group2
    metadata["condition"] = np.where(units["condition"] == comparison.group1, "tested", "reference")
    counts.index = metadata.index = [f"unit{i}" for i in range(len(units))]
    design = "~" + " + ".join([*(f"covariate{i}" for i in range(len(comparison.covariates))), "condition"])
    inference = DefaultInference(n_cpus=n_cpus)
    dds = DeseqDataSet(counts=counts.loc[:, detected], metadata=metadata, design=design,
                       size_factors_fit_type="poscounts", inference=inference, quiet=True)
    dds.deseq2()
    stats = DeseqStats(dds, contrast=["condition", "tested", "reference"], inference=inference, quiet=True)
    stats.summary()
    table = stats.results_df.copy()
    if shrink:
        coefficient = next(c for c in stats.LFC.columns if c.startswith("condition"))
        stats.lfc_shrink(coeff=coefficient)
        table["log2FoldChange_shrunk"] = stats.results_df["log2FoldChange"]
    table = table.reindex(regions)
    table.index.name = "region"
    return table
