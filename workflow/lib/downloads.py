"""Where sample sheet entries given as http(s) addresses land: `<downloads>/<sha256>/<file name>`, a matrix archive
(`.tar.gz`) unpacked into `<downloads>/<sha256>/<name without .tar.gz>/`. Keyed by checksum, a file is fetched once
and two files of one name cannot clash. The fetching and unpacking is steps/download.py.
"""

from pathlib import Path
from urllib.parse import urlparse

from .errors import InputError

ARCHIVE_SUFFIX = ".tar.gz"


def file_name(url):
    """The file name an address ends in (`.../atac_pbmc_filtered_peak_bc_matrix.tar.gz` -> that name)."""
    name = Path(urlparse(url).path).name
    if not name:
        raise InputError(f"{url}: the address names no file; expected an address ending in a file name")
    return name


def local_path(url, sha256, downloads, unpacked=False):
    """Where the file of `url` is kept; with `unpacked`, the folder an archive is unpacked into."""
    name = file_name(url)
    if unpacked and name.endswith(ARCHIVE_SUFFIX):
        name = name[: -len(ARCHIVE_SUFFIX)]
    return str(Path(downloads) / sha256.lower() / name)
