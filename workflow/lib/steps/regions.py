"""Rule study_regions: the study's common regions (BED), from the samples' peak sets or the user's BED."""

import logging
from pathlib import Path

import anndata as ad

from ..errors import InputError
from ..matrix_io import read_peaks_bed
from ..peak_merge import common_regions, merge_overlapping
from .region_files import write_regions_bed

log = logging.getLogger("atacflow")


def study_regions(raw_paths, samples, regions_settings, output):
    """`raw_paths`: the read matrices of the samples that have one (`samples`, in sheet order)."""
    policy = regions_settings["policy"]
    peaks_of = {sample: ad.read_h5ad(path, backed="r").var for sample, path in zip(samples, raw_paths)}
    given = _given_regions(regions_settings["bed"]) if policy == "bed" else None
    if peaks_of:
        regions, n_candidates = common_regions(peaks_of, policy, given)
    else:  # fragments files alone: the BED's regions, counted exactly in every sample
        regions, n_candidates = given, len(given)
    log.info("regions.policy %s: %d regions kept of %d candidates (peak sets of %s)", policy, len(regions),
             n_candidates, ", ".join(peaks_of) or "no sample")
    write_regions_bed(regions, n_candidates, output)


def _given_regions(path):
    """The user's regions (config regions.bed; config_checks made sure one is named)."""
    regions = read_peaks_bed(Path(path))
    if len(merge_overlapping(regions)[0]) < len(regions):
        raise InputError(f"config regions.bed {path}: regions overlap one another; expected non-overlapping regions")
    return regions
