"""Differential accessibility (DA) from the model's normalized accessibility.

For cell n, a_nr = E_q[rho_r(z_n)] is the posterior expected normalized accessibility of region r
(mean of softmax(f(z) + b) over draws z ~ q(z | x_n)). A group G of cells has mean accessibility
mu_Gr = sum_{n in G} w_n a_nr with weights w ~ Dirichlet(1, ..., 1) over the group's cells: the
Bayesian bootstrap (Rubin 1981), whose posterior spread is the sampling uncertainty of the group's
mean (about sd_r / sqrt(|G|)), not the cell-to-cell spread. For each of D draws d:

    lfc_rd = log2(mu_1rd + eps) - log2(mu_2rd + eps),      eps = pseudocount (default 0.01 / R)

    proba_da_r = (#{d : |lfc_rd| >= delta} + 1/2) / (D + 1)      (two-sided)
    proba_da_r = (#{d :  lfc_rd  >= delta} + 1/2) / (D + 1)      (one-sided, group 1 more accessible)
    bayes_factor_r = log(proba_da_r / (1 - proba_da_r))

Calls: among regions with proba_da >= min_proba (default 0.5: more likely DA than not), sort by proba_da
descending and call the largest top set whose posterior expected FDR, mean(1 - proba_da) over the set, is
<= the target. Without the floor, a set of near-certain calls would admit low-probability regions into the
FDR budget; with it the set's expected FDR is still <= the target. emp_prob1/2 are the fractions of cells of each
group with >= 1 fragment in the region; emp_effect = emp_prob1 - emp_prob2.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

MODES = ("one-sided", "two-sided")


@dataclass(frozen=True)
class DASettings:
    delta: float = 0.5
    fdr_target: float = 0.05
    min_proba: float = 0.5
    n_draws: int = 200
    n_latent_samples: int = 5
    pseudocount: float | None = None
    max_block_values: int = 2**24
    batch_correction: bool = True
    seed: int = 0


@dataclass(frozen=True)
class Comparison:
    """group 1 vs group 2 on one annotation column; `cells1`/`cells2` index the cells of each group."""

    name: str
    groupby: str
    group1: str
    group2: str
    mode: str
    cells1: np.ndarray
    cells2: np.ndarray

    def complements(self, n_cells):
        """Whether group 2 is exactly every cell outside group 1 (two distinct groups that together hold all
        n_cells), so that group 2's sums are all - group 1's."""
        return self.group1 != self.group2 and len(self.cells1) + len(self.cells2) == n_cells


def bootstrap_weights(n_cells, n_draws, seed):
    """(1 + D, n) weights: row 0 is all ones (the plain group mean); rows 1..D are i.i.d. Exp(1), which
    normalized within any group are Dirichlet(1, ..., 1) Bayesian-bootstrap weights."""
    draws = np.random.default_rng(seed).standard_exponential((n_draws, n_cells), dtype=np.float32)
    return np.vstack([np.ones((1, n_cells), dtype=np.float32), draws])


def weighted_means(weights, accessibility):
    """(1 + D, C) weighted means: (weights @ accessibility) / row sums of weights."""
    return (weights @ accessibility) / weights.sum(dim=1, keepdim=True)


def lfc_statistics(mean1, mean2, delta, mode, pseudocount):
    """Per-region statistics from (1 + D, C) group means (row 0: point estimates, rows 1..D: draws)."""
    lfc = torch.log2(mean1[1:] + pseudocount) - torch.log2(mean2[1:] + pseudocount)
    exceed = lfc.abs() >= delta if mode == "two-sided" else lfc >= delta
    proba = (exceed.sum(dim=0).double() + 0.5) / (lfc.shape[0] + 1)
    return {
        "proba_da": proba, "proba_not_da": 1.0 - proba, "bayes_factor": torch.log(proba / (1.0 - proba)),
        "lfc_mean": lfc.mean(dim=0), "lfc_median": lfc.median(dim=0).values, "lfc_std": lfc.std(dim=0),
        "scale1": mean1[0].clone(), "scale2": mean2[0].clone(),
    }


def fdr_calls(proba_da, target, min_proba=0.5):
    """Largest top set (by proba_da), among regions with proba_da >= min_proba, whose mean of (1 - proba_da)
    is <= target."""
    proba_da = np.asarray(proba_da, dtype=float)
    order = np.argsort(-proba_da, kind="stable")
    order = order[proba_da[order] >= min_proba]
    expected_fdr = np.cumsum(1.0 - proba_da[order]) / np.arange(1, len(order) + 1)
    passing = np.flatnonzero(expected_fdr <= target)
    calls = np.zeros(len(proba_da), dtype=bool)
    if passing.size:
        calls[order[: passing[-1] + 1]] = True
    return calls


class DetectionRates:
    """Fraction of each group's cells with >= 1 fragment per region. When group 2 complements group 1, its
    counts are all - group 1's, so every cluster against the rest reads each nonzero once in all."""

    def __init__(self, counts):
        self.detected = (sp.csr_matrix(counts) > 0).astype(np.float32)
        self.all = self._count(slice(None))

    def _count(self, cells):
        return np.asarray(self.detected[cells].sum(axis=0), dtype=float).ravel()

    def of(self, comparison):
        """(emp_prob1, emp_prob2) of a comparison."""
        detected1 = self._count(comparison.cells1)
        complements = comparison.complements(self.detected.shape[0])
        detected2 = self.all - detected1 if complements else self._count(comparison.cells2)
        return detected1 / len(comparison.cells1), detected2 / len(comparison.cells2)


def differential_accessibility(accessibility_blocks, counts, regions, comparisons, settings, device="cpu",
                               samples=None, batch_corrected=False):
    """DA tables, one per comparison, from blocks (region_slice, tensor cells x block) of accessibility.
    `samples` (each cell's sample) gives the number of samples contributing cells to each group;
    `batch_corrected` says whether the accessibility was averaged over batches (a column of the tables).

    Blocks keep memory at cells x block size: no cells x regions array exists at full size. A group
    against all other cells uses sum(rest) = sum(all) - sum(group), so all clusters against the rest
    cost two passes over the cells per draw.
    """
    n_cells = counts.shape[0]
    weights = torch.as_tensor(bootstrap_weights(n_cells, settings.n_draws, settings.seed), device=device)
    pseudocount = settings.pseudocount if settings.pseudocount is not None else 0.01 / len(regions)
    groups = {c.name: _group_tensors(c, weights, n_cells, device) for c in comparisons}
    total_weight = weights.sum(dim=1, keepdim=True)
    group_weight = {name: first[1].sum(dim=1, keepdim=True) for name, (first, _) in groups.items()}
    columns = {c.name: [] for c in comparisons}
    for _, accessibility in accessibility_blocks:
        total = weights @ accessibility
        for comparison in comparisons:
            (cells1, weights1), second = groups[comparison.name]
            sum1 = weights1 @ accessibility[cells1]
            mean1 = sum1 / group_weight[comparison.name]
            if second is None:
                mean2 = (total - sum1) / (total_weight - group_weight[comparison.name])
            else:
                mean2 = weighted_means(second[1], accessibility[second[0]])
            statistics = lfc_statistics(mean1, mean2, settings.delta, comparison.mode, pseudocount)
            columns[comparison.name].append({k: v.cpu().numpy() for k, v in statistics.items()})
    detection = DetectionRates(counts)
    tables = {c.name: _table(c, columns[c.name], detection, regions, settings) for c in comparisons}
    samples = None if samples is None else np.asarray(samples)
    for comparison in comparisons:
        table = tables[comparison.name]
        table["batch_correction"] = batch_corrected
        if samples is not None:
            table["n_samples1"] = len(np.unique(samples[comparison.cells1]))
            table["n_samples2"] = len(np.unique(samples[comparison.cells2]))
    return tables


def _group_tensors(comparison, weights, n_cells, device):
    """((cells1, weights1), (cells2, weights2) or None when group 2 is every other cell)."""
    cells1 = torch.as_tensor(comparison.cells1, device=device)
    first = (cells1, weights[:, cells1])
    if comparison.complements(n_cells):
        return first, None
    cells2 = torch.as_tensor(comparison.cells2, device=device)
    return first, (cells2, weights[:, cells2])


def _table(comparison, blocks, detection, regions, settings):
    table = pd.DataFrame({key: np.concatenate([block[key] for block in blocks]) for key in blocks[0]}, index=regions)
    table.index.name = "region"
    table["emp_prob1"], table["emp_prob2"] = detection.of(comparison)
    table["emp_effect"] = table["emp_prob1"] - table["emp_prob2"]
    table[f"is_da_fdr_{settings.fdr_target}"] = fdr_calls(table["proba_da"], settings.fdr_target, settings.min_proba)
    table.insert(0, "comparison", comparison.name)
    table["groupby"], table["group1"], table["group2"] = comparison.groupby, comparison.group1, comparison.group2
    table["n_cells1"], table["n_cells2"] = len(comparison.cells1), len(comparison.cells2)
    table["delta"], table["mode"] = settings.delta, comparison.mode
    return table.sort_values(["proba_da", "lfc_mean"], ascending=[False, False], key=_evidence_key(comparison.mode))


def _evidence_key(mode):
    return lambda column: column.abs() if (column.name == "lfc_mean" and mode == "two-sided") else column


def region_blocks(n_cells, n_regions, max_block_values):
    """Region slices such that cells x block stays under `max_block_values`."""
    size = max(1, min(n_regions, max_block_values // max(n_cells, 1)))
    return [slice(start, min(start + size, n_regions)) for start in range(0, n_regions, size)]


def model_accessibility_blocks(model, adata, settings):
    """Yield (region_slice, E_q[rho] block) from a trained PoissonVI, region block by region block.

    A block holds cells x regions <= max_block_values; it is formed a chunk of cells at a time, so that the draws'
    intermediate (draws x cells x regions) stays under the same bound. Each pass of the DA over a block reads all
    bootstrap weights (1 + n_draws per cell), so the fewer and wider the blocks, the less memory traffic."""
    torch.manual_seed(settings.seed)
    hidden, normalizers = model.decoder_states(adata, settings.n_latent_samples, settings.batch_correction,
                                               settings.max_block_values)
    for regions in region_blocks(adata.n_obs, adata.n_vars, settings.max_block_values):
        width = regions.stop - regions.start
        chunk = max(1, settings.max_block_values // (hidden.shape[0] * width))
        block = torch.empty((adata.n_obs, width), device=hidden.device)
        for start in range(0, adata.n_obs, chunk):
            cells = slice(start, start + chunk)
            block[cells] = model.accessibility(hidden[:, cells], normalizers[:, cells], regions)
        yield regions, block
