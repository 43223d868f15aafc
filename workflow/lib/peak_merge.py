"""One common region set for the samples of a study, by genomic overlap, never by name.

Joining per-sample peak sets by name makes a peak called in one sample a column of zeros in the others: a batch
effect made of nothing. Here (intervals half-open, [start, end), as in BED):

- `overlap` (default, matrices only): the union of all samples' peaks is cut into merged regions, each a maximal
  run of peaks that overlap one another (across or within samples). A merged region is kept when every sample has
  at least one peak inside it, and a sample's counts in it are the sum of its counts over its peaks inside it.
  Samples whose peak sets are identical keep them as they are (nothing to merge).
- `bed`: the regions of a user-given BED; each sample peak goes to the region it overlaps most (the first on a
  tie), and a region is kept when every sample has a peak in it.

A sample's counts in a kept region are then  x_nR = sum_{p in R} x_np  (a sparse product with a 0/1 peaks x
regions assignment). Every sample must name chromosomes the same way: `chr1` in one and `1` in another is an error
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
    """The study's regions and, per sample, its 0/1 (peaks x regions) assignment.

    `peaks_of` maps each sample to its peak table (chrom, start, end, in the matrix's column order). Returns
    (regions table indexed by chrom:start-end, {sample: CSR assignment}, per-sample statistics table).
    """
    if policy not in POLICIES:
        raise InputError(f"config regions.policy: found {policy!r}; expected one of {', '.join(POLICIES)}")
    check_chromosome_naming(peaks_of if given_regions is None else {**peaks_of, "regions.bed": given_regions})
    names = {sample: tuple(peaks.index) for sample, peaks in peaks_of.items()}
    if policy == "overlap" and len(set(names.values())) == 1:
        regions = next(iter(peaks_of.values()))[["chrom", "start", "end"]].copy()
        assignment = {sample: sp.identity(len(regions), dtype=np.float32, format="csr") for sample in peaks_of}
        return regions, assignment, None
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
    new_index = np.cumsum(shared) - 1
    regions = candidates[shared].reset_index(drop=True)
    regions.index = region_names(regions)
    regions.index.name = "region"
    assignment = {sample: _assignment_matrix(members, shared, new_index) for sample, members in member_of.items()}
    return regions, assignment, {"n_candidate_regions": len(candidates)}


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


def _assignment_matrix(members, shared, new_index):
    """0/1 (peaks x kept regions) CSR: peak p -> the kept region holding it (none when its region was dropped)."""
    keep = (members >= 0) & shared[np.maximum(members, 0)]
    rows = np.flatnonzero(keep)
    return sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, new_index[members[keep]])),
                         shape=(len(members), int(shared.sum())))
