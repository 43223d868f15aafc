"""Rule count_fragments: a sample's fragments file counted exactly in the study's regions (or genome tiles), for
its cells, with per-cell fragment QC and the sample's fragment-length histogram."""

import logging

import anndata as ad
import numpy as np
import pandas as pd

from ..annotations import join_cell_metadata, read_barcode_list
from ..keys import FRAGMENT_QC_COLUMNS
from ..fragment_counting import (MAX_LENGTH, GenomeTiles, PeakRegions, call_cells, count_fragment_file,
                                 read_chrom_sizes)
from ..peak_merge import peak_assignment
from ..provenance import record_step
from ..study import label_cells
from .files import write_h5ad, write_tsv
from .region_files import read_regions_bed

log = logging.getLogger("atacflow")
QC_COLUMNS = dict(zip(("unique_fragments", "reads", "fragments_in_regions", "frip", "nucleosome_signal"),
                      FRAGMENT_QC_COLUMNS))


def count_fragments(fragments_path, cells, regions, sample, outputs, annotation=None, metadata_path="", threads=None):
    """`cells`: {"matrix": raw.h5ad} (the matrix's cells, already annotated), {"barcodes": file} or
    {"min_unique_fragments": n}; `regions`: {"bed": study regions} or {"tile_size": bp, "chrom_sizes": file or ""};
    `outputs`: {"counts", "qc", "lengths"}."""
    matrix = ad.read_h5ad(cells["matrix"], backed="r") if "matrix" in cells else None
    barcodes, source = _cell_barcodes(fragments_path, cells, matrix, threads)
    counted = count_fragment_file(fragments_path, _regions(regions), barcodes, source_of_cells=source,
                                  threads=threads)
    qc = counted.qc.rename(columns=QC_COLUMNS)
    adata = ad.AnnData(X=counted.counts, obs=_annotated_cells(matrix, barcodes, sample, annotation, metadata_path),
                       var=counted.regions)
    adata.obs = adata.obs.join(qc.set_axis(adata.obs_names))
    adata.uns["regions"] = _region_statistics(matrix, counted, "tile_size" in regions)
    adata.uns["fragment_conversion"] = {"source": str(fragments_path), "applied": "counted",
                                        "n_fragments_in_file": counted.n_fragments}
    log.info("%s (sample %s): %d fragments; %d cells x %d regions, %d nonzero entries; median %d unique fragments "
             "and FRiP %.3f per cell", fragments_path, sample, counted.n_fragments, adata.n_obs, adata.n_vars,
             adata.X.nnz, qc["n_unique_fragments"].median(), qc["frip"].median())
    write_tsv(adata.obs[["barcode", *QC_COLUMNS.values()]], outputs["qc"])
    write_tsv(pd.DataFrame({"length": np.arange(MAX_LENGTH + 1), "n_fragments": counted.lengths}),
              outputs["lengths"], index=False)
    write_h5ad(record_step(adata, "count_fragments", {"fragments": str(fragments_path), **cells, **regions}),
               outputs["counts"])


def _cell_barcodes(fragments_path, cells, matrix, threads):
    if matrix is not None:
        return pd.Index(matrix.obs["barcode"].astype(str)), f"the matrix {cells['matrix']}"
    if "barcodes" in cells:
        return read_barcode_list(cells["barcodes"]), f"barcodes {cells['barcodes']}"
    return call_cells(fragments_path, cells["min_unique_fragments"], threads), "the called cells"


def _regions(settings):
    if "bed" in settings:
        return PeakRegions(read_regions_bed(settings["bed"])[0], settings["bed"])
    sizes = read_chrom_sizes(settings["chrom_sizes"]) if settings["chrom_sizes"] else None
    return GenomeTiles(settings["tile_size"], sizes)


def _annotated_cells(matrix, barcodes, sample, annotation, metadata_path):
    """The cells' annotation: the matrix's (read_matrix made it), or the barcodes labelled as read_matrix does."""
    if matrix is not None:
        return matrix.obs.copy()
    cells = ad.AnnData(obs=pd.DataFrame(index=barcodes))
    if metadata_path:
        cells.obs = join_cell_metadata(cells.obs, metadata_path)
    return label_cells(cells, sample, annotation or {}).obs


def _region_statistics(matrix, counted, is_tiles):
    in_regions = float(counted.qc["fragments_in_regions"].sum())
    total = float(counted.qc["unique_fragments"].sum())
    stats = {"n_peaks": np.nan, "n_peaks_in_kept_regions": np.nan, "n_peaks_dropped": np.nan,
             "fraction_of_fragments_kept": in_regions / total if total else 0.0}
    if matrix is not None and not is_tiles:  # a matrix's peaks against the study's peaks (tiles hold every peak)
        kept = np.asarray(peak_assignment(matrix.var, counted.regions).sum(axis=1)).ravel() > 0
        stats.update(n_peaks=matrix.n_vars, n_peaks_in_kept_regions=int(kept.sum()),
                     n_peaks_dropped=int((~kept).sum()))
    return stats
