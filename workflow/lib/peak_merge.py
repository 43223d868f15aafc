"""One common region set for the samples of a study, by genomic overlap, never by name.

Joining per-sample peak sets by name makes a peak called in one sample a column of zeros in the others: a batch
effect made of nothing. Here (intervals half-open, [start, end), as in BED):

- `overlap` (from the samples' peak matrices): the union of all samples' peaks is cut into merged regions, each a maximal
  run of peaks that overlap one another (across or within samples). A merged region is kept when every sample has
  at least one peak inside it, and a sample's counts in it are the sum of its counts over its peaks inside it.
  Samples whose peak sets are identical keep them as they are (nothing to merge).
- `bed`: the regions of a user-given BED; each sample peak goes to the region it overlaps most (the first on a
  tie), and a region is kept when every sample has a peak in it.

A sample's counts in a kept region are then  x_nR = sum_{p in R} x_np  (a sparse product with a 0/1 peaks x
regions assignment, `peak_assignment`); a sample with a fragments file is counted in the regions exactly instead
(fragment_counting). Every sample must name chromosomes the same way: `chr1` in one and `1` in another is an error
naming both samples, not an empty intersection.
"""

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import InputError

POLICIES = ("overlap", "bed")


def merge_overlapping(intervals):
    """Maximal runs of overlapping intervals (chrom, start, end) as a table of merged intervals, and for each input
    interval the row of the merged interval holding it."""
    order = intervals.sort_values(["chrom", "start", "end"], kind="stable").index
    table = intervals.loc[order]
    chrom, start, end = table["chrom"].to_numpy(), table["start"].to_numpy(), table["end"].to_numpy()
    reach = pd.Series(end).groupby(chrom).cummax().to_numpy()  # furthest end so far on the chromosome
    new_run = np.ones(len(table), dtype=bool)
    new_run[1:] = (chrom[1:] != chrom[:-1]) | (start[1:] >= reach[:-1])
    run = np.cumsum(new_run) - 1
    merged = pd.DataFrame({"chrom": chrom[new_run], "start": start[new_run],
                           "end": pd.Series(end).groupby(run).max().to_numpy()})
    member_of = pd.Series(run, index=order).reindex(intervals.index).to_numpy()
    return merged, member_of


def region_names(regions):
    return regions["chrom"] + ":" + regions["start"].astype(str) + "-" + regions["end"].astype(str)


def check_chromosome_naming(peaks_of):
    """Samples must share chromosome naming: a sample whose chromosomes differ from another's only by a 'chr'
    prefix is an error naming both."""
    prefixed = {sample: peaks["chrom"].str.startswith("chr").mean() > 0.5 for sample, peaks in peaks_of.items()}
    if len(set(prefixed.values())) > 1:
        with_chr = next(s for s, p in prefixed.items() if p)
        without = next(s for s, p in prefixed.items() if not p)
        raise InputError(
            f"samples {with_chr!r} and {without!r} name chromosomes differently (e.g. "
            f"{peaks_of[with_chr]['chrom'].iloc[0]!r} vs {peaks_of[without]['chrom'].iloc[0]!r}); expected one genome "
            "build and one naming in every sample"
        )


def common_regions(peaks_of, policy="overlap", given_regions=None):
    """The study's regions, indexed by chrom:start-end, and the number of candidate regions they were kept from.

    `peaks_of` maps each sample with a peak matrix to its peak table (chrom, start, end). Each sample's counts are
    then taken onto the regions by `peak_assignment`.
    """
    if policy not in POLICIES:
        raise InputError(f"config regions.policy: found {policy!r}; expected one of {', '.join(POLICIES)}")
    check_chromosome_naming(peaks_of if given_regions is None else {**peaks_of, "regions.bed": given_regions})
    names = {sample: tuple(peaks.index) for sample, peaks in peaks_of.items()}
    if policy == "overlap" and len(set(names.values())) == 1:
        regions = next(iter(peaks_of.values()))[["chrom", "start", "end"]].copy()
        return regions, len(regions)
    if policy == "overlap":
        candidates, member_of = _overlap_candidates(peaks_of)
    else:
        candidates, member_of = given_regions[["chrom", "start", "end"]].reset_index(drop=True), {
            sample: _best_overlap(peaks, given_regions) for sample, peaks in peaks_of.items()}
    shared = np.ones(len(candidates), dtype=bool)
    for sample, members in member_of.items():
        present = np.zeros(len(candidates), dtype=bool)
        present[members[members >= 0]] = True
        shared &= present
    if not shared.any():
        raise InputError(
            f"regions.policy {policy}: no region holds a peak of every sample ({', '.join(peaks_of)}); expected "
            "samples of one genome build with peaks in common (or policy bed with regions they share)"
        )
    regions = candidates[shared].reset_index(drop=True)
    regions.index = region_names(regions)
    regions.index.name = "region"
    return regions, len(candidates)


def _overlap_candidates(peaks_of):
    stacked = pd.concat([peaks[["chrom", "start", "end"]].assign(sample=sample) for sample, peaks in peaks_of.items()],
                        ignore_index=True)
    merged, member_of = merge_overlapping(stacked[["chrom", "start", "end"]])
    return merged, {sample: member_of[(stacked["sample"] == sample).to_numpy()] for sample in peaks_of}


def _best_overlap(peaks, regions):
    """For each peak, the row of `regions` (non-overlapping) it overlaps most, the first on a tie; -1 when none."""
    best = np.full(len(peaks), -1)
    for chrom, chosen in regions.reset_index(drop=True).groupby("chrom", sort=False):
        chosen = chosen.sort_values("start")
        on_chrom = np.flatnonzero((peaks["chrom"] == chrom).to_numpy())
        starts, ends, rows = chosen["start"].to_numpy(), chosen["end"].to_numpy(), chosen.index.to_numpy()
        peak_starts, peak_ends = peaks["start"].to_numpy()[on_chrom], peaks["end"].to_numpy()[on_chrom]
        first = np.searchsorted(ends, peak_starts, side="right")  # regions ending after the peak starts
        stop = np.searchsorted(starts, peak_ends, side="left")  # ... and starting before it ends
        for peak, low, high, start, end in zip(on_chrom, first, stop, peak_starts, peak_ends):
            if high > low:
                overlaps = np.minimum(end, ends[low:high]) - np.maximum(start, starts[low:high])
                best[peak] = rows[low + int(np.argmax(overlaps))]
    return best


def peak_assignment(peaks, regions):
    """0/1 (peaks x regions) CSR taking each peak to the region it overlaps most (none when it overlaps none). Onto
    the regions of policy `overlap` this is the merged region holding the peak: merged regions are maximal runs of
    overlapping peaks, so a peak overlaps exactly one of them, or none when its run was dropped."""
    best = _best_overlap(peaks, regions)
    kept = best >= 0
    return sp.csr_matrix((np.ones(int(kept.sum()), dtype=np.float32), (np.flatnonzero(kept), best[kept])),
                         shape=(len(peaks), len(regions)))


def project_onto_regions(adata, regions):
    """A sample's counts over the study's `regions`: x_s @ A_s, with A_s its 0/1 peaks x regions assignment
    (peak_merge.peak_assignment); returns the new AnnData and the sample's merge numbers."""
    import anndata as ad

    assignment = peak_assignment(adata.var, regions)
    counts = sp.csr_matrix(adata.X @ assignment)
    counts.data = np.rint(counts.data).astype(np.int32)
    in_regions = np.asarray(assignment.sum(axis=1)).ravel() > 0
    total = float(adata.X.sum())
    stats = {"n_peaks": adata.n_vars, "n_peaks_in_kept_regions": int(in_regions.sum()),
             "n_peaks_dropped": int((~in_regions).sum()),
             "fraction_of_fragments_kept": float(counts.sum()) / total if total else 0.0}
    projected = ad.AnnData(X=counts, obs=adata.obs.copy(), var=regions.copy(), uns={**adata.uns, "regions": stats})
    return projected, stats
