"""Stream a 10x fragments file (`fragments.tsv.gz`) in batches, checking every line.

The 10x layout: bgzipped (or plain) text, tab-separated `chrom, start, end, barcode, duplicate count`, one line per
unique fragment, sorted by chromosome (each chromosome one block) and start; leading `#` lines are a header. The
file is parsed by Arrow's multi-threaded CSV reader in blocks of `block_size` bytes (4 MB), which reads at most 32
blocks ahead of the consumer: memory holds those blocks, never the file (benchmarks/bench_fragments.py measures it). Barcodes and chromosomes arrive dictionary-encoded (each batch: integer codes into its own small
table of names), so no per-fragment string is ever made in Python.

A file that breaks the layout raises one InputError naming the file and line: a malformed line, end <= start, a
negative start or a count below 1, a line out of order (sorting is what keeps the counts' memory to the output
matrix; see fragment_counting), a truncated or corrupt gzip stream.

A tabix index (`<file>.tbi`) beside the file is read when present, for the chromosome names it lists: regions on
chromosomes absent from the file are then found before any fragment is read. It is never required.
"""

import gzip
import logging
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError

COLUMNS = ("chrom", "start", "end", "barcode", "count")
LAYOUT = "tab-separated chrom, start, end, barcode, duplicate count (the 10x fragments.tsv.gz layout)"
BLOCK_SIZE = 4 << 20  # Arrow reads up to 32 blocks ahead of the consumer: 4 MB bounds that to 128 MB
log = logging.getLogger(__name__)


@dataclass
class FragmentBatch:
    """Consecutive fragments of the file. `chrom` holds ids into the reader's `chromosomes`, `barcode` codes into
    this batch's `barcodes`; `first_line` is the 1-based line number of the batch's first fragment."""

    chrom: np.ndarray
    start: np.ndarray
    end: np.ndarray
    barcode: np.ndarray
    barcodes: pd.Index
    count: np.ndarray
    first_line: int

    def __len__(self):
        return len(self.start)


class FragmentReader:
    """Iterate over a fragments file's batches; `chromosomes` lists the chromosome names seen so far, in file
    order, and `n_fragments` the fragments read."""

    def __init__(self, path, block_size=BLOCK_SIZE, threads=None):
        """`threads`: Arrow's parsing threads (its default: one per core)."""
        self.path = Path(path)
        self.threads = threads
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such file; expected a fragments file ({LAYOUT})")
        self.block_size = block_size
        self.chromosomes = []
        self.n_fragments = 0
        self._chrom_id = {}
        self._last = None  # (chrom id, start) of the previous fragment

    def __iter__(self):
        import pyarrow as pa
        import pyarrow.csv as csv

        if self.threads:
            pa.set_cpu_count(self.threads)
        self.chromosomes, self._chrom_id, self.n_fragments, self._last = [], {}, 0, None
        n_header = count_header_lines(self.path)
        line = n_header + 1
        try:
            with pa.input_stream(str(self.path), compression="gzip" if is_gzipped(self.path) else None) as stream:
                reader = csv.open_csv(
                    stream,
                    read_options=csv.ReadOptions(column_names=list(COLUMNS), skip_rows=n_header,
                                                 block_size=self.block_size),
                    parse_options=csv.ParseOptions(delimiter="\t", quote_char=False, ignore_empty_lines=False),
                    convert_options=csv.ConvertOptions(column_types=_arrow_types(pa)),
                )
                for record_batch in reader:
                    batch = self._batch(record_batch, line)
                    self._check(batch)
                    line += len(batch)
                    self.n_fragments += len(batch)
                    yield batch
        except (pa.ArrowInvalid, OSError, EOFError, zlib.error) as error:
            raise self._locate_error(error, line) from None

    def _batch(self, record_batch, first_line):
        chrom = record_batch.column("chrom")
        barcode = record_batch.column("barcode")
        names = chrom.dictionary.to_pylist()
        ids = np.array([self._chromosome_id(name) for name in names], dtype=np.int32)
        return FragmentBatch(
            chrom=ids[chrom.indices.to_numpy(zero_copy_only=False)] if len(ids) else np.zeros(0, np.int32),
            start=record_batch.column("start").to_numpy(),
            end=record_batch.column("end").to_numpy(),
            barcode=barcode.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False),
            barcodes=pd.Index(barcode.dictionary.to_numpy(zero_copy_only=False)),
            count=record_batch.column("count").to_numpy(),
            first_line=first_line,
        )

    def _chromosome_id(self, name):
        if name not in self._chrom_id:
            self._chrom_id[name] = len(self.chromosomes)
            self.chromosomes.append(name)
        return self._chrom_id[name]

    def _check(self, batch):
        """Values as the layout says, and the order: chromosomes in blocks, starts non-decreasing within one."""
        problems = [
            (batch.end <= batch.start, "end <= start; expected a fragment with end > start"),
            (batch.start < 0, "negative start; expected 0-based coordinates >= 0"),
            (batch.count < 1, "duplicate count below 1; expected the number of reads of the fragment, >= 1"),
        ]
        for bad, what in problems:
            if bad.any():
                self._fail(batch, int(np.argmax(bad)), what)
        chrom, start = batch.chrom, batch.start
        if self._last is not None:
            chrom, start = np.r_[self._last[0], chrom], np.r_[self._last[1], start]
        new_chrom = chrom[1:] != chrom[:-1]
        back = (~new_chrom & (start[1:] < start[:-1])) | (new_chrom & (chrom[1:] < chrom[:-1]))
        if back.any():
            at = int(np.argmax(back)) - (1 if self._last is not None else 0) + 1
            self._fail(batch, at, "out of order; expected fragments sorted by chromosome (each chromosome in one "
                                  "block) and start, as Cell Ranger writes them (sort -k1,1 -k2,2n, then bgzip)")
        if len(batch):
            self._last = (batch.chrom[-1], batch.start[-1])

    def _fail(self, batch, row, what):
        name = self.chromosomes[batch.chrom[row]]
        found = f"{name}\t{batch.start[row]}\t{batch.end[row]}\t{batch.barcodes[batch.barcode[row]]}\t{batch.count[row]}"
        raise InputError(f"{self.path} line {batch.first_line + row}: {what}; found {found!r}")

    def _locate_error(self, error, line):
        """An error of the parser or of gzip, as an InputError naming the line where a line-by-line read fails."""
        text = str(error).splitlines()[0]
        if isinstance(error, (EOFError, zlib.error)) or "gzip" in text.lower() or "zlib" in text.lower() or \
                "compress" in text.lower():
            return InputError(f"{self.path}: the gzip stream is truncated or corrupt after line {line - 1} "
                              f"({text}); expected a complete bgzipped fragments file")
        bad_line, content = first_malformed_line(self.path)
        if bad_line is None:
            return InputError(f"{self.path}: cannot be read as fragments ({text}); expected {LAYOUT}")
        return InputError(f"{self.path} line {bad_line}: found {content!r}; expected {LAYOUT}, the positions and "
                          "the count integers")


def _arrow_types(pa):
    names = pa.dictionary(pa.int32(), pa.string())
    return {"chrom": names, "start": pa.int64(), "end": pa.int64(), "barcode": names, "count": pa.int64()}


def is_gzipped(path):
    """By the file's first bytes, not its name."""
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _open_text(path):
    if is_gzipped(path):
        return gzip.open(path, "rt", encoding="utf-8", newline="\n")
    return open(path, encoding="utf-8", newline="\n")


def count_header_lines(path):
    """The number of leading `#` lines (Cell Ranger's header)."""
    count = 0
    try:
        with _open_text(path) as handle:
            for line in handle:
                if not line.startswith("#"):
                    break
                count += 1
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot be read ({error}); expected a bgzipped fragments file ({LAYOUT})") from None
    return count


def first_malformed_line(path):
    """(line number, text) of the first line that is not a header line and not five fields with integer
    positions and count; (None, None) when every line is well formed. The slow path, taken after an error."""
    number = 0
    try:
        with _open_text(path) as handle:
            header = True
            for number, line in enumerate(handle, start=1):
                if header and line.startswith("#"):
                    continue
                header = False
                fields = line.rstrip("\n").split("\t")
                if len(fields) != len(COLUMNS) or not all(f.lstrip("-").isdigit() for f in (fields[1], fields[2],
                                                                                             fields[4])):
                    return number, line.rstrip("\n")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
        return number + 1, f"<unreadable: {error}>"
    return None, None


def indexed_chromosomes(path):
    """The chromosome names a tabix index beside `path` (`path`.tbi) lists, or None when there is none.

    The index is a bgzipped binary: magic `TBI\\1`, n_ref, six int32 settings, the length of the names block and
    the names, NUL-terminated (htslib's tabix format, section 5.2 of the SAM specification).
    """
    index = Path(f"{path}.tbi")
    if not index.is_file():
        return None
    try:
        with gzip.open(index, "rb") as handle:
            head = handle.read(36)
            magic, n_ref, *_settings, names_length = struct.unpack("<4s8i", head)
            if magic != b"TBI\x01":
                raise ValueError(f"magic {magic!r}")
            names = handle.read(names_length).split(b"\x00")[:n_ref]
    except (OSError, EOFError, zlib.error, struct.error, ValueError) as error:
        log.warning("%s: not a tabix index (%s); reading the fragments without it", index, error)
        return None
    return [name.decode() for name in names]
