"""Rules download and unpack_matrix: a sheet entry's address fetched and checksummed; a matrix archive unpacked.

pooch streams the file to a temporary name beside the target and moves it into place only when its SHA-256 matches
the sheet's: a mismatch or a broken connection leaves no file behind. A file already in place is not fetched again
(Snakemake does not rerun a rule whose output exists, and pooch checks the hash of a file it finds). Archives are
unpacked with tarfile's `data` filter, which refuses absolute paths, links out of the folder and device files.
"""

import logging
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from ..errors import InputError

log = logging.getLogger("atacflow")


def download(url, sha256, target):
    """Fetch `url` into `target` if its SHA-256 is `sha256`."""
    import pooch
    import requests

    target = Path(target)
    try:
        pooch.retrieve(url, known_hash=f"sha256:{sha256.lower()}", fname=target.name, path=target.parent,
                       progressbar=False)
    except ValueError as error:  # pooch's hash mismatch: "... expected sha256:X but got Y. Deleted download ..."
        mismatch = str(error).split(". Deleted")[0]
        raise InputError(f"{url}: {mismatch}. The download was deleted; expected the file the sheet's checksum was "
                         "taken of (check the address and the checksum)") from None
    except (requests.exceptions.RequestException, OSError) as error:
        raise InputError(f"{url}: download failed ({error}); expected a reachable address") from None
    log.info("%s: downloaded to %s, SHA-256 %s verified", url, target, sha256)


def unpack_matrix_archive(archive, folder):
    """Unpack a `.tar.gz` holding a Cell Ranger matrix folder into `folder`, the matrix's files directly inside it:
    the archive's folder that holds `matrix.mtx(.gz)` (such as `filtered_peak_bc_matrix/`, or one nested deeper)
    becomes `folder`."""
    folder = Path(folder)
    with tempfile.TemporaryDirectory(dir=folder.parent) as scratch:
        try:
            with tarfile.open(archive, "r:*") as tar:
                tar.extractall(scratch, filter="data")
        except (tarfile.TarError, OSError, EOFError) as error:
            raise InputError(f"{archive}: cannot be unpacked ({error}); expected a .tar.gz of a Cell Ranger "
                             "filtered_peak_bc_matrix folder") from None
        matrix_folders = sorted({m.parent for pattern in ("matrix.mtx", "matrix.mtx.gz")
                                 for m in Path(scratch).rglob(pattern) if "__MACOSX" not in m.parts})
        if len(matrix_folders) != 1:
            raise InputError(f"{archive}: holds {len(matrix_folders)} folders with a matrix.mtx(.gz); expected one "
                             "Cell Ranger filtered_peak_bc_matrix folder")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(matrix_folders[0], folder)
    log.info("%s: unpacked into %s (%s)", archive, folder, ", ".join(sorted(p.name for p in folder.iterdir())))
