"""The study's regions BED, written by rule study_regions and read by the rules that count into it."""

from pathlib import Path

from ..matrix_io import read_peaks_bed
from .files import atomic_path


REGIONS_HEADER = "# atacflow study regions: n_candidate_regions="


def write_regions_bed(regions, n_candidates, path):
    """The study's regions as BED (chrom, start, end, name), with the number of candidates they were kept from in a
    `#` header line (BED readers skip it)."""
    with atomic_path(path) as temporary, open(temporary, "w") as handle:
        handle.write(f"{REGIONS_HEADER}{n_candidates}\n")
        regions[["chrom", "start", "end"]].assign(name=regions.index).to_csv(handle, sep="\t", header=False,
                                                                             index=False)


def read_regions_bed(path):
    """(regions table, number of candidate regions) of a BED written by write_regions_bed."""
    with open(path) as handle:
        first = handle.readline()
    n_candidates = int(first[len(REGIONS_HEADER):]) if first.startswith(REGIONS_HEADER) else None
    return read_peaks_bed(Path(path)), n_candidates
