"""Rule merge_samples: every sample's fragments, all over the study's regions, as one AnnData."""

import logging

from ..peak_merge import check_chromosome_naming, project_onto_regions
from ..provenance import record_step
from ..study import join_samples, merge_statistics
from .files import read_h5ad, write_h5ad, write_tsv
from .region_files import read_regions_bed

log = logging.getLogger("atacflow")


def merge_samples(fragments_paths, samples, regions_path, regions_settings, output, stats_output):
    """`fragments_paths` in the order of `samples` (the sheet's rows); `regions_path` is the study's regions BED,
    empty for genome tiles (each sample then holds the tiles its cells touch). A matrix's fragments are summed over
    its peaks inside each region here, so that a new or repaired sample reruns no other matrix's per-sample jobs (a
    fragments file is counted in the regions by its own job, which a change of the regions reruns)."""
    per_sample = {sample: read_h5ad(path) for sample, path in zip(samples, fragments_paths)}
    regions, n_candidates = read_regions_bed(regions_path) if regions_path else (None, None)
    for sample, adata in per_sample.items():
        if "regions" not in adata.uns:  # a matrix over its own peaks (a fragments file was counted in the regions)
            per_sample[sample] = project_onto_regions(adata, regions)[0]
    if regions is None:  # genome tiles join on their coordinates, so the samples must name chromosomes alike
        check_chromosome_naming({sample: adata.var for sample, adata in per_sample.items()})
    joint = join_samples(per_sample)
    n_candidates = n_candidates or joint.n_vars
    stats = merge_statistics(per_sample, n_candidates, joint.n_vars)
    for sample, row in stats.iterrows():
        log.info("%s: %s peaks in, %d of %d candidate regions kept, %s peaks dropped, %.1f%% of fragments kept",
                 sample, row["n_peaks"], row["n_regions_kept"], row["n_merged_regions"], row["n_peaks_dropped"],
                 100 * row["fraction_of_fragments_kept"])
    joint.uns["atacflow"] = {"samples": {sample: dict(a.uns.get("atacflow", {})) for sample, a in per_sample.items()}}
    log.info("study: %d cells of %d samples x %d regions", joint.n_obs, len(per_sample), joint.n_vars)
    write_tsv(stats, stats_output)
    write_h5ad(record_step(joint, "merge", dict(regions_settings)), output)
