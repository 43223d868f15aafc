"""Counting fragments files: the exact rule on real data (muon PBMC), tiles (ArchR PBSmall), the 10x format
(Signac), fragment QC, cell lists and every bad input the reader must name."""

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from atacflow.annotations import read_barcode_list
from atacflow.errors import InputError
from atacflow.fragment_counting import (MAX_LENGTH, GenomeTiles, PeakRegions, call_cells, count_fragment_file,
                                        read_chrom_sizes)
from atacflow.fragment_reader import FragmentReader, indexed_chromosomes
from atacflow.matrix_io import read_peak_matrix, read_peaks_bed
from conftest import DATA, SIGNAC

MUON = DATA / "muon_pbmc_174_peaks"
ARCHR = DATA / "archr_pbsmall"


@pytest.fixture(scope="module")
def muon():
    return read_peak_matrix(MUON)


@pytest.fixture(scope="module")
def covered_columns(muon):
    """The 123 peaks lying entirely inside the regions the muon fragments file covers."""
    return muon.var_names.get_indexer(read_peaks_bed(MUON / "peaks_covered_by_fragments.bed.gz").index)


def fragments_table(path):
    return pd.read_csv(path, sep="\t", header=None, names=["chrom", "start", "end", "barcode", "count"], comment="#")


def test_counting_cut_sites_reproduces_the_cell_ranger_matrix_on_every_covered_peak(muon, covered_columns):
    counted = count_fragment_file(MUON / "fragments.tsv.gz", PeakRegions(muon.var, "peaks"), muon.obs_names,
                                  unit="cut_sites")
    assert len(covered_columns) == 123
    expected, found = muon.X.tocsc()[:, covered_columns].toarray(), counted.counts.tocsc()[:, covered_columns].toarray()
    np.testing.assert_array_equal(found, expected)


def test_fragment_counts_agree_with_ceil_half_the_reads_on_at_least_99_7_percent(muon, covered_columns):
    counted = count_fragment_file(MUON / "fragments.tsv.gz", PeakRegions(muon.var, "peaks"), muon.obs_names)
    reads = muon.X.tocsc()[:, covered_columns].toarray()
    fragments = counted.counts.tocsc()[:, covered_columns].toarray()
    nonzero = reads > 0
    agreement = (fragments[nonzero] == np.ceil(reads[nonzero] / 2)).mean()
    assert nonzero.sum() == 9110 and agreement >= 0.997
    assert (fragments <= reads).all() and ((fragments > 0) == nonzero).all()


def test_a_fragment_counts_once_when_a_cut_site_lies_in_the_region(tmp_path):
    """Half-open regions [100, 200) and [300, 400): both cut sites in one region count 1 there; a fragment bridging
    two regions counts 1 in each; end == region end is outside; the last fragment lies in none."""
    path = write_fragments(tmp_path / "f.tsv.gz", [("chr1", 100, 199, "A", 3), ("chr1", 150, 350, "A", 1),
                                                   ("chr1", 199, 200, "B", 1), ("chr1", 250, 300, "B", 1),
                                                   ("chr1", 400, 500, "B", 1)])
    regions = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [100, 300], "end": [200, 400]})
    fragments = count_fragment_file(path, PeakRegions(regions, "test"), ["A", "B"])
    cut_sites = count_fragment_file(path, PeakRegions(regions, "test"), ["A", "B"], unit="cut_sites")
    assert fragments.counts.toarray().tolist() == [[2, 1], [1, 1]]
    assert cut_sites.counts.toarray().tolist() == [[3, 1], [1, 1]]
    qc = fragments.qc
    assert qc["unique_fragments"].tolist() == [2, 3] and qc["reads"].tolist() == [4, 3]
    assert qc["fragments_in_regions"].tolist() == [2, 2] and qc["frip"].tolist() == [1.0, 2 / 3]
    assert fragments.lengths[[99, 200, 1, 50, 100]].tolist() == [1, 1, 1, 1, 1] and fragments.lengths.sum() == 5


def test_tiles_count_every_fragment_of_the_archr_cells_like_a_direct_computation():
    table = fragments_table(ARCHR / "fragments.tsv.gz")
    cells = read_barcode_list(ARCHR / "cells.tsv.gz")
    counted = count_fragment_file(ARCHR / "fragments.tsv.gz", GenomeTiles(500), cells)
    assert len(cells) == 150 and counted.n_fragments == 29_399
    direct = {}
    for row in table.itertuples():
        for tile in {(row.chrom, row.start // 500), (row.chrom, row.end // 500)}:
            key = (row.barcode, f"{tile[0]}:{tile[1] * 500}-{tile[1] * 500 + 500}")
            direct[key] = direct.get(key, 0) + 1
    coo = counted.counts.tocoo()
    found = {(cells[i], counted.regions.index[j]): v for i, j, v in zip(coo.row, coo.col, coo.data)}
    assert found == direct
    assert (counted.qc["unique_fragments"] == table.groupby("barcode").size().reindex(cells)).all()
    assert counted.qc["frip"].isna().all() and set(counted.regions["chrom"]) == {"chr5", "chr11"}


def test_chrom_sizes_clip_the_last_tile_and_drop_what_lies_beyond(tmp_path):
    path = write_fragments(tmp_path / "f.tsv.gz", [("chr1", 100, 700, "A", 1), ("chr1", 900, 1300, "A", 1),
                                                   ("chrUn", 5, 10, "A", 1)])
    sizes = tmp_path / "chrom.sizes"
    sizes.write_text("chr1\t1000\nchr2\t50\n")
    counted = count_fragment_file(path, GenomeTiles(500, read_chrom_sizes(sizes)), ["A"])
    assert list(counted.regions.index) == ["chr1:0-500", "chr1:500-1000"]
    assert counted.counts.toarray().tolist() == [[1, 2]]
    assert counted.qc["unique_fragments"].tolist() == [3]


def test_the_signac_fragments_file_reads_in_the_10x_layout():
    reader = FragmentReader(SIGNAC / "fragments.tsv.gz")
    batches = list(reader)
    assert reader.n_fragments == 100 and reader.chromosomes == ["chr1"]
    assert indexed_chromosomes(SIGNAC / "fragments.tsv.gz") == ["chr1"]
    barcodes = set(read_peak_matrix(SIGNAC).obs_names)
    assert {batches[0].barcodes[code] for code in batches[0].barcode} <= barcodes


def test_a_header_is_skipped_and_a_missing_index_is_not_needed(tmp_path):
    path = write_fragments(tmp_path / "f.tsv.gz", [("chr1", 10, 20, "A", 1)], header=["# id=x", "# pipeline=y"])
    counted = count_fragment_file(path, GenomeTiles(500), ["A"])
    assert counted.n_fragments == 1 and indexed_chromosomes(path) is None


def test_cells_are_called_by_unique_fragments_most_first():
    cells = call_cells(MUON / "fragments.tsv.gz", 100)
    per_barcode = fragments_table(MUON / "fragments.tsv.gz").groupby("barcode").size()
    assert set(cells) == set(per_barcode.index[per_barcode >= 100])
    assert per_barcode[cells].is_monotonic_decreasing
    with pytest.raises(InputError, match="no barcode has >= 1000000 unique fragments"):
        call_cells(MUON / "fragments.tsv.gz", 1_000_000)


@pytest.mark.parametrize("text, expected", [
    ("AAAC-1\nAAAG-1\n", ["AAAC-1", "AAAG-1"]),
    ("barcode\tcell_type\nAAAC-1\tB\nAAAG-1\tT\n", ["AAAC-1", "AAAG-1"]),
    ("barcode,total,is__cell_barcode\nNO_BARCODE,10,0\nAAAC-1,5,1\nAAAG-1,7,0\n", ["AAAC-1"]),
    ("barcode,is_cell,atac_fragments\nAAAC-1,1,5\nAAAG-1,1,9\n", ["AAAC-1", "AAAG-1"]),
], ids=["one-per-line", "cell-table", "cellranger-singlecell-csv", "cellranger-arc-per-barcode-metrics"])
def test_barcode_lists_in_the_layouts_users_have(tmp_path, text, expected):
    path = tmp_path / "barcodes.txt"
    path.write_text(text)
    assert list(read_barcode_list(path)) == expected


def write_fragments(path, rows, header=()):
    lines = list(header) + ["\t".join(map(str, row)) for row in rows]
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


# Bad input: one InputError naming the file and line, what was found and what was expected.
GOOD = [("chr1", 100, 200, "A", 1), ("chr1", 150, 300, "B", 2), ("chr2", 50, 90, "A", 1)]


@pytest.mark.parametrize("rows, message", [
    ([GOOD[0], ("chr1", 150, 300, "B"), GOOD[2]], r"line 3: found 'chr1\\t150\\t300\\tB'; expected tab-separated"),
    ([GOOD[0], ("chr1", "x150", 300, "B", 2)], r"line 3: found .*x150"),
    ([GOOD[0], ("chr1", 300, 300, "B", 1)], r"line 3: end <= start; expected a fragment with end > start"),
    ([GOOD[0], ("chr1", 150, 300, "B", 0)], r"line 3: duplicate count below 1"),
    ([GOOD[1], GOOD[0]], r"line 3: out of order; expected fragments sorted by chromosome"),
    ([GOOD[0], GOOD[2], ("chr1", 500, 600, "A", 1)], r"line 4: out of order"),
], ids=["four-columns", "not-a-number", "end-not-after-start", "zero-count", "start-goes-back", "chromosome-again"])
def test_a_malformed_fragments_file_is_an_error_naming_the_line(tmp_path, rows, message):
    """Line numbers count the header line too: they are the file's lines."""
    path = write_fragments(tmp_path / "bad.tsv.gz", rows, header=["# a header line"])
    with pytest.raises(InputError, match=message) as error:
        count_fragment_file(path, GenomeTiles(500), ["A", "B"])
    assert str(path) in str(error.value)


def test_an_error_deep_in_a_large_file_names_its_line(tmp_path):
    rows = [("chr1", 10 * i, 10 * i + 50, "A", 1) for i in range(200_000)]
    rows[150_000] = ("chr1", 1_500_000, 1_500_000, "A", 1)
    path = write_fragments(tmp_path / "big.tsv.gz", rows)
    with pytest.raises(InputError, match="line 150001: end <= start"):
        list(FragmentReader(path, block_size=1 << 20))


def test_a_truncated_gzip_is_an_error(tmp_path):
    whole = (MUON / "fragments.tsv.gz").read_bytes()
    path = tmp_path / "truncated.tsv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match="gzip stream is truncated or corrupt"):
        count_fragment_file(path, GenomeTiles(500), ["A"])


def test_a_barcode_list_none_of_which_is_in_the_fragments_is_an_error(tmp_path):
    path = write_fragments(tmp_path / "f.tsv.gz", GOOD)
    with pytest.raises(InputError, match=r"none of the 2 barcodes of the barcode list \(e.g. 'A-1'\) occurs"):
        count_fragment_file(path, GenomeTiles(500), ["A-1", "B-1"])


def test_regions_on_chromosomes_the_fragments_lack_warn_with_their_number_or_fail_when_all_are(tmp_path, caplog):
    path = write_fragments(tmp_path / "f.tsv.gz", GOOD)
    some = pd.DataFrame({"chrom": ["chr1", "chr7", "chr8"], "start": [100, 0, 0], "end": [200, 10, 10]})
    counted = count_fragment_file(path, PeakRegions(some, "peaks.bed"), ["A", "B"])
    assert counted.counts.toarray().tolist() == [[1, 0, 0], [1, 0, 0]]
    assert "2 of 3 regions lie on 2 chromosomes absent from the fragments (chr7, chr8)" in caplog.text
    none = pd.DataFrame({"chrom": ["1", "2"], "start": [100, 0], "end": [200, 10]})
    with pytest.raises(InputError, match="none of the regions' chromosomes"):
        count_fragment_file(path, PeakRegions(none, "peaks.bed"), ["A", "B"])


def test_with_a_tabix_index_absent_chromosomes_are_found_before_reading(tmp_path, monkeypatch):
    """The muon index lists its chromosomes: regions on none of them fail before any fragment is read."""
    monkeypatch.setattr(FragmentReader, "__iter__", lambda self: pytest.fail("the fragments were read"))
    regions = pd.DataFrame({"chrom": ["chrZ"], "start": [0], "end": [10]})
    with pytest.raises(InputError, match="its tabix index lists chr1, chr2"):
        count_fragment_file(MUON / "fragments.tsv.gz", PeakRegions(regions, "peaks.bed"), ["A"])


def test_overlapping_peaks_are_an_error():
    regions = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [100, 150], "end": [200, 300]})
    with pytest.raises(InputError, match="regions chr1:100-200 and chr1:150-300 overlap"):
        PeakRegions(regions, "peaks.bed")


def test_histogram_holds_every_longer_fragment_in_its_last_bin(tmp_path):
    path = write_fragments(tmp_path / "f.tsv.gz", [("chr1", 0, 5000, "A", 1), ("chr1", 10, 1010, "A", 1)])
    counted = count_fragment_file(path, GenomeTiles(500), ["A"])
    assert counted.lengths[MAX_LENGTH] == 2 and counted.lengths.sum() == 2
    assert Path(path).exists()


def test_an_uncompressed_fragments_file_reads_like_the_gzipped_one(tmp_path):
    plain = tmp_path / "fragments.tsv"
    with gzip.open(ARCHR / "fragments.tsv.gz", "rb") as handle:
        plain.write_bytes(handle.read())
    cells = read_barcode_list(ARCHR / "cells.tsv.gz")
    gzipped = count_fragment_file(ARCHR / "fragments.tsv.gz", GenomeTiles(500), cells)
    uncompressed = count_fragment_file(plain, GenomeTiles(500), cells)
    assert (gzipped.counts != uncompressed.counts).nnz == 0 and uncompressed.n_fragments == 29_399


def test_tiles_on_a_genome_the_chrom_sizes_do_not_name_are_an_error(tmp_path):
    path = write_fragments(tmp_path / "f.tsv.gz", GOOD)
    sizes = tmp_path / "chrom.sizes"
    sizes.write_text("1\t1000000\n2\t1000000\n")
    with pytest.raises(InputError, match=r"none of its chromosomes \(chr1, chr2\) is in regions.chrom_sizes"):
        count_fragment_file(path, GenomeTiles(500, read_chrom_sizes(sizes)), ["A", "B"])


def test_a_file_of_header_lines_only_holds_no_fragment(tmp_path):
    path = write_fragments(tmp_path / "f.tsv.gz", [], header=["# id=x"])
    with pytest.raises(InputError, match="no fragment"):
        count_fragment_file(path, GenomeTiles(500), ["A"])


def test_cell_calling_sums_barcodes_across_batches_and_compactions(monkeypatch):
    from atacflow import fragment_counting

    monkeypatch.setattr(fragment_counting, "COMPACT_AT", 1000)
    per_barcode = fragments_table(MUON / "fragments.tsv.gz").groupby("barcode").size()
    totals = fragment_counting.unique_fragments_per_barcode(MUON / "fragments.tsv.gz")
    assert totals.sort_index().equals(per_barcode.sort_index().astype(np.int64))
