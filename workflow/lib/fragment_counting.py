"""Exact fragment counts per cell and region from a fragments file, with per-cell fragment QC.

The counting rule (verified on the muon PBMC set, see tests/test_fragment_counting.py): a fragment has two Tn5 cut
sites, at `start` and at `end` exactly as written in the file. A region [start, end) (BED, half-open) counts a
fragment once when at least one of the fragment's cut sites p satisfies  region_start <= p < region_end;  a fragment
with both cut sites in one region still counts 1. With `unit="cut_sites"` each cut site counts 1 instead, which is
what Cell Ranger's peak matrix holds (its entries are reproduced exactly).

Regions are either a peak set (non-overlapping intervals, `PeakRegions`) or genome tiles of `bin_size` bp
(`GenomeTiles`: tile i of a chromosome is [i * bin_size, (i + 1) * bin_size), clipped to the chromosome length of
chrom.sizes; without it a chromosome ends at the largest coordinate seen; only tiles that hold a count are kept).

Memory: the file is streamed (fragment_reader); each batch is reduced to its distinct (region, cell) entries with
their counts before the next is read. A sorted file touches few regions per batch, so what is kept grows with the
output matrix's nonzeros (plus the entries of regions that span two batches), not with the number of fragments.

Per-cell QC (for the cells counted): `unique_fragments` (lines of the file: Cell Ranger writes one line per unique
fragment), `reads` (sum of the duplicate counts), `fragments_in_regions` (fragments with a cut site in a region) and
`frip` = fragments_in_regions / unique_fragments (0 for a cell without fragments; peaks only, NaN for tiles, which
hold every fragment), and
`nucleosome_signal` = fragments of 147-294 bp / fragments under 147 bp (Signac's mono- to nucleosome-free ratio).
The sample's fragment-length histogram (lengths end - start of the cells' fragments, the last bin holding every
longer one) shows the nucleosome ladder.
"""

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import InputError
from .fragment_reader import LAYOUT, FragmentReader, indexed_chromosomes

UNITS = ("fragments", "cut_sites")
MAX_LENGTH = 1000  # histogram bins 0 .. MAX_LENGTH, the last holding every longer fragment
NUCLEOSOME_FREE, MONONUCLEOSOME = 147, 294
QC_TALLIES = ("unique_fragments", "reads", "fragments_in_regions", "nucleosome_free", "mononucleosome")
COMPACT_AT = 5_000_000  # per-batch barcode counts gathered before they are summed per barcode
CHROM_SHIFT = 40  # region and tile keys: chromosome id << CHROM_SHIFT | position or bin (2^40 > any chromosome)
log = logging.getLogger(__name__)


@dataclass
class FragmentCounts:
    counts: sp.csr_matrix  # cells x regions
    cells: pd.Index
    regions: pd.DataFrame  # chrom, start, end; indexed chrom:start-end
    qc: pd.DataFrame  # per cell
    lengths: np.ndarray  # fragment-length histogram of the cells' fragments
    n_fragments: int  # fragments in the file


class PeakRegions:
    """Non-overlapping peaks; `locate` finds the peak holding each position by binary search over starts laid
    end to end on one axis (chromosome id << CHROM_SHIFT | position)."""

    is_tiles = False

    def __init__(self, table, source):
        table = table[["chrom", "start", "end"]].astype({"start": np.int64, "end": np.int64})
        self.chromosomes = list(dict.fromkeys(table["chrom"]))
        chrom_id = table["chrom"].map({name: i for i, name in enumerate(self.chromosomes)}).to_numpy(np.int64)
        self.table = table
        self.order = np.lexsort((table["start"].to_numpy(), chrom_id))
        starts = (chrom_id[self.order] << CHROM_SHIFT) + table["start"].to_numpy()[self.order]
        self.ends = (chrom_id[self.order] << CHROM_SHIFT) + table["end"].to_numpy()[self.order]
        overlapping = np.flatnonzero(starts[1:] < self.ends[:-1])
        if len(overlapping):
            first, second = table.iloc[self.order[overlapping[0]]], table.iloc[self.order[overlapping[0] + 1]]
            raise InputError(
                f"{source}: regions {first['chrom']}:{first['start']}-{first['end']} and "
                f"{second['chrom']}:{second['start']}-{second['end']} overlap; expected non-overlapping regions (merge "
                "them first, e.g. bedtools merge)"
            )
        self.starts = starts
        self._id_of = {name: i for i, name in enumerate(self.chromosomes)}

    def keys(self, file_chromosomes, chrom, positions):
        """Index of the region holding each position (in start order), -1 where none does."""
        ids = np.array([self._id_of.get(name, -1) for name in file_chromosomes], dtype=np.int64)[chrom]
        axis = (ids << CHROM_SHIFT) + positions
        found = np.searchsorted(self.starts, axis, side="right") - 1
        inside = (ids >= 0) & (found >= 0)
        inside[inside] = axis[inside] < self.ends[found[inside]]
        return np.where(inside, found, -1)

    def finish(self, file_chromosomes, keys):
        """Columns of `keys` (in the order of the table given), and that table indexed chrom:start-end."""
        return self.order[keys], _named(self.table.reset_index(drop=True))


class GenomeTiles:
    """Tiles of `bin_size` bp: tile i of a chromosome is [i * bin_size, (i + 1) * bin_size), the last one clipped to
    the chromosome's length in `chrom_sizes` ({name: length}). Without chrom.sizes a chromosome's length is taken
    from the largest coordinate seen, so its last tile is the one holding it, unclipped (the true end is unknown):
    tiles then have the same coordinates in every sample.

    Only tiles holding a fragment of a cell are kept as columns: the others are zero in every cell and would be
    dropped by any region filter; samples join on the tiles' coordinates (a tile one sample lacks is a true zero
    there, since every sample has the same grid)."""

    is_tiles = True

    def __init__(self, bin_size, chrom_sizes=None):
        if bin_size < 1:
            raise InputError(f"config regions.tile_size: found {bin_size}; expected a positive number of base pairs")
        self.bin_size = int(bin_size)
        self.chrom_sizes = chrom_sizes
        self.outside = 0  # cut sites beyond chrom.sizes or on chromosomes it lacks

    def keys(self, file_chromosomes, chrom, positions):
        """chromosome id << CHROM_SHIFT | tile number, -1 beyond the chromosome's length."""
        key = (chrom.astype(np.int64) << CHROM_SHIFT) + positions // self.bin_size
        if self.chrom_sizes is None:
            return key
        sizes = np.array([self.chrom_sizes.get(name, 0) for name in file_chromosomes], dtype=np.int64)[chrom]
        outside = positions >= sizes
        self.outside += int(outside.sum())
        return np.where(outside, -1, key)

    def finish(self, file_chromosomes, keys):
        """Columns: the tiles holding a count, in file order of chromosomes and then position."""
        tiles, columns = np.unique(keys, return_inverse=True)
        chrom = np.asarray(file_chromosomes, dtype=object)[tiles >> CHROM_SHIFT] if len(tiles) else np.zeros(0, object)
        start = (tiles & ((1 << CHROM_SHIFT) - 1)) * self.bin_size
        end = start + self.bin_size
        if self.chrom_sizes is not None:
            end = np.minimum(end, pd.Series(chrom).map(self.chrom_sizes).to_numpy(np.int64))
        return columns, _named(pd.DataFrame({"chrom": chrom, "start": start, "end": end}))


def _named(regions):
    regions.index = regions["chrom"].astype(str) + ":" + regions["start"].astype(str) + "-" + regions["end"].astype(str)
    regions.index.name = "region"
    return regions


def read_chrom_sizes(path):
    """{chromosome: length} from a two-column chrom.sizes file (UCSC's fetchChromSizes layout)."""
    try:
        table = pd.read_csv(path, sep="\t", header=None, usecols=[0, 1], names=["chrom", "length"], dtype={0: str},
                            comment="#")
        lengths = pd.to_numeric(table["length"], errors="raise").astype(np.int64)
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(f"{path}: cannot be read as chrom.sizes ({error}); expected lines 'chrom<TAB>length'") from None
    if (lengths <= 0).any() or table["chrom"].duplicated().any():
        raise InputError(f"{path}: found a length <= 0 or a chromosome twice; expected one positive length per "
                         "chromosome")
    return dict(zip(table["chrom"], lengths))


def unique_fragments_per_barcode(path, threads=None):
    """Unique fragments (lines) of every barcode in the file, as a Series indexed by barcode. Each batch's counts
    are kept as they are and summed per barcode whenever COMPACT_AT of them have gathered, so the cost grows with
    the file, not with the file times the number of barcodes."""
    parts, gathered = [], 0
    for batch in FragmentReader(path, threads=threads):
        parts.append(pd.Series(np.bincount(batch.barcode, minlength=len(batch.barcodes)), index=batch.barcodes))
        gathered += len(batch.barcodes)
        if gathered >= COMPACT_AT:
            parts = [_sum_per_barcode(parts)]
            gathered = len(parts[0])
    return _sum_per_barcode(parts) if parts else pd.Series(dtype=np.int64)


def _sum_per_barcode(parts):
    return pd.concat(parts).groupby(level=0, sort=False).sum().astype(np.int64)


def call_cells(path, min_unique_fragments, threads=None):
    """Barcodes with at least `min_unique_fragments` unique fragments (most fragments first): the cells of a
    fragments file given without a barcode list."""
    totals = unique_fragments_per_barcode(path, threads)
    called = totals[totals >= min_unique_fragments].sort_values(ascending=False, kind="stable")
    log.info("%s: %d of %d barcodes have >= %d unique fragments (cells)", path, len(called), len(totals),
             min_unique_fragments)
    if called.empty:
        raise InputError(f"{path}: no barcode has >= {min_unique_fragments} unique fragments (the most is "
                         f"{int(totals.max()) if len(totals) else 0}); expected cells: lower "
                         "fragments.min_unique_fragments or give the sample a barcodes file")
    return pd.Index(called.index, name="barcode")


def count_fragment_file(path, regions, cells, unit="fragments", source_of_cells="the barcode list", threads=None):
    """Count the fragments of `cells` (barcodes) in `regions` (PeakRegions or GenomeTiles) by the counting rule;
    `threads` parse the file (default: one per core)."""
    if unit not in UNITS:
        raise ValueError(f"unit {unit!r}; expected one of {UNITS}")
    cells = pd.Index(cells, name="barcode")
    if cells.empty:
        raise InputError(f"{path}: {source_of_cells} holds no barcode; expected the cells to count")
    _check_chromosomes_up_front(path, regions)
    reader = FragmentReader(path, threads=threads)
    tallies = {name: np.zeros(len(cells), dtype=np.int64) for name in QC_TALLIES}
    lengths = np.zeros(MAX_LENGTH + 1, dtype=np.int64)
    entries = []
    for batch in reader:
        cell = cells.get_indexer(batch.barcodes)[batch.barcode]
        of_cells = cell >= 0
        cell, chrom = cell[of_cells], batch.chrom[of_cells]
        start, end = batch.start[of_cells], batch.end[of_cells]
        at_start = regions.keys(reader.chromosomes, chrom, start)
        at_end = regions.keys(reader.chromosomes, chrom, end)
        _tally(tallies, cell, batch.count[of_cells], (at_start >= 0) | (at_end >= 0), end - start)
        lengths += np.bincount(np.minimum(end - start, MAX_LENGTH), minlength=MAX_LENGTH + 1)
        second = (at_end >= 0) & ((at_end != at_start) if unit == "fragments" else True)
        entries.append(_distinct_entries(np.r_[at_start[at_start >= 0], at_end[second]],
                                         np.r_[cell[at_start >= 0], cell[second]], len(cells)))
    if not reader.n_fragments:
        raise InputError(f"{path}: no fragment (only header lines, or empty); expected {LAYOUT} lines")
    if not tallies["unique_fragments"].any():
        raise InputError(f"{path}: none of the {len(cells)} barcodes of {source_of_cells} (e.g. {cells[0]!r}) occurs "
                         f"in the fragments (e.g. {_a_barcode(path)!r}); expected the same barcodes, written alike "
                         "(with the same -1, -2 ... suffix)")
    _report_cells_without_fragments(path, tallies["unique_fragments"], source_of_cells)
    _check_chromosomes_seen(path, regions, reader.chromosomes)
    counts, table = _matrix(entries, regions, reader.chromosomes, len(cells))
    return FragmentCounts(counts, cells, table, _qc_table(tallies, cells, regions.is_tiles), lengths,
                          reader.n_fragments)


def _report_cells_without_fragments(path, unique_fragments, source_of_cells):
    """A cell list and a fragments file of different runs share few barcodes: say how many cells have none."""
    empty = int((unique_fragments == 0).sum())
    share = empty / len(unique_fragments)
    (log.warning if share > 0.5 else log.info)(
        "%s: %d of %d cells of %s (%.1f%%) have no fragment in the file%s", path, empty, len(unique_fragments),
        source_of_cells, 100 * share, "; are the barcodes and the fragments of the same run?" if share > 0.5 else "")


def _distinct_entries(keys, cells, n_cells):
    """The distinct (key, cell) pairs of a batch with their multiplicities."""
    if not len(keys):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    key_codes, distinct_keys = pd.factorize(keys, sort=False)
    codes, counts = np.unique(key_codes.astype(np.int64) * n_cells + cells, return_counts=True)
    return distinct_keys[codes // n_cells], codes % n_cells, counts


def _matrix(entries, regions, file_chromosomes, n_cells):
    keys = np.concatenate([e[0] for e in entries]) if entries else np.zeros(0, np.int64)
    columns, table = regions.finish(file_chromosomes, keys)
    cells = np.concatenate([e[1] for e in entries]) if entries else np.zeros(0, np.int64)
    values = np.concatenate([e[2] for e in entries]) if entries else np.zeros(0, np.int64)
    counts = sp.csr_matrix((values.astype(np.int32), (cells, columns)), shape=(n_cells, len(table)))
    counts.sum_duplicates()
    return counts, table


def _tally(tallies, cell, reads, in_regions, length):
    """Add a batch's fragments (of cells: `cell` their cell index) to the per-cell QC tallies."""
    def count(name, which, weights=None):
        tallies[name] += np.bincount(which, weights=weights, minlength=len(tallies[name])).astype(np.int64)

    count("unique_fragments", cell)
    count("reads", cell, reads)
    count("fragments_in_regions", cell[in_regions])
    count("nucleosome_free", cell[length < NUCLEOSOME_FREE])
    count("mononucleosome", cell[(length >= NUCLEOSOME_FREE) & (length < MONONUCLEOSOME)])


def _qc_table(tallies, cells, is_tiles):
    unique, in_regions = tallies["unique_fragments"], tallies["fragments_in_regions"]
    nucleosome_free, mononucleosome = tallies["nucleosome_free"], tallies["mononucleosome"]
    with np.errstate(divide="ignore", invalid="ignore"):
        frip = np.full(len(cells), np.nan) if is_tiles else in_regions / np.maximum(unique, 1)
        signal = np.where(nucleosome_free > 0, mononucleosome / nucleosome_free, np.nan)
    return pd.DataFrame({"unique_fragments": unique, "reads": tallies["reads"], "fragments_in_regions": in_regions,
                         "frip": frip, "nucleosome_signal": signal}, index=cells)


def _check_chromosomes_up_front(path, regions):
    """With a tabix index, regions on none of the file's chromosomes fail before any fragment is read."""
    listed = indexed_chromosomes(path)
    if listed is not None and not regions.is_tiles and not regions.table["chrom"].isin(listed).any():
        _no_shared_chromosome(path, regions.table["chrom"], listed, "its tabix index lists")


def _check_chromosomes_seen(path, regions, file_chromosomes):
    """Regions on chromosomes the fragments lack: a warning with their number, an error when it is all of them."""
    if regions.is_tiles:
        _check_tile_chromosomes(path, regions, file_chromosomes)
        return
    on_absent = ~regions.table["chrom"].isin(set(file_chromosomes)).to_numpy()
    if on_absent.all():
        _no_shared_chromosome(path, regions.table["chrom"], file_chromosomes, "it holds")
    absent = sorted(set(regions.table["chrom"][on_absent]))
    if absent:
        log.warning("%s: %d of %d regions lie on %d chromosomes absent from the fragments (%s); they count zero",
                    path, int(on_absent.sum()), len(on_absent), len(absent), ", ".join(absent[:5]))


def _check_tile_chromosomes(path, tiles, file_chromosomes):
    """Tiles bounded by chrom.sizes: none of the file's chromosomes in it is an error (another build or naming)."""
    if tiles.chrom_sizes is None:
        return
    if not set(file_chromosomes) & set(tiles.chrom_sizes):
        raise InputError(f"{path}: none of its chromosomes ({', '.join(list(file_chromosomes)[:5])}) is in "
                         f"regions.chrom_sizes ({', '.join(list(tiles.chrom_sizes)[:5])}); expected the same genome "
                         "build and chromosome naming")
    if tiles.outside:
        log.warning("%s: %d cut sites lie beyond the lengths of chrom.sizes or on chromosomes it lacks (%s); they "
                    "count in no tile", path, tiles.outside,
                    ", ".join(sorted(set(file_chromosomes) - set(tiles.chrom_sizes))[:5]) or "none")


def _no_shared_chromosome(path, region_chromosomes, file_chromosomes, where):
    raise InputError(f"{path}: none of the regions' chromosomes ({', '.join(sorted(set(region_chromosomes))[:5])}) "
                     f"occurs in the fragments ({where} {', '.join(list(file_chromosomes)[:5]) or 'none'}); expected "
                     "the same genome build and chromosome naming")


def _a_barcode(path):
    for batch in FragmentReader(path):
        if len(batch.barcodes):
            return batch.barcodes[0]
    return None
