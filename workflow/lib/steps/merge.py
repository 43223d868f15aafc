"""Rule merge_samples: every sample's fragments over the study's common regions, as one AnnData."""

import logging

from ..errors import InputError
from ..matrix_io import read_peaks_bed
from ..peak_merge import common_regions, merge_overlapping
from ..provenance import record_step
from ..study import join_samples, merge_statistics
from .files import read_h5ad, write_h5ad, write_tsv

log = logging.getLogger("atacflow")


def merge_samples(fragments_paths, samples, regions_settings, output, stats_output):
    """`fragments_paths` in the order of `samples` (the sheet's rows)."""
    per_sample = {sample: read_h5ad(path) for sample, path in zip(samples, fragments_paths)}
    given = _given_regions(regions_settings["bed"]) if regions_settings["policy"] == "bed" else None
    regions, assignment, merged = common_regions({s: a.var for s, a in per_sample.items()},
                                                 regions_settings["policy"], given)
    n_candidates = merged["n_candidate_regions"] if merged else len(regions)
    stats = merge_statistics(per_sample, assignment, n_candidates)
    for sample, row in stats.iterrows():
        log.info("%s: %d peaks in, %d of %d merged regions kept, %d peaks dropped, %.1f%% of fragments kept", sample,
                 row["n_peaks"], row["n_regions_kept"], row["n_merged_regions"], row["n_peaks_dropped"],
                 100 * row["fraction_of_fragments_kept"])
    joint = join_samples(per_sample, regions, assignment)
    joint.uns["atacflow"] = {"samples": {sample: dict(a.uns.get("atacflow", {})) for sample, a in per_sample.items()}}
    log.info("study: %d cells of %d samples x %d regions", joint.n_obs, len(per_sample), joint.n_vars)
    write_tsv(stats, stats_output)
    write_h5ad(record_step(joint, "merge", dict(regions_settings)), output)


def _given_regions(path):
    if not path:
        raise InputError("config regions.bed: empty; expected a BED file of regions when regions.policy is bed")
    regions = read_peaks_bed(path)
    if len(merge_overlapping(regions)[0]) < len(regions):
        raise InputError(f"config regions.bed {path}: regions overlap one another; expected non-overlapping regions")
    return regions
