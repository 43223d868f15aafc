"""Provenance stored in `uns['atacflow']`: package versions and the parameters of each step."""

import platform
from importlib.metadata import PackageNotFoundError, version

PACKAGES = ("atacflow", "torch", "anndata", "scanpy", "numpy", "scipy", "pandas", "leidenalg", "igraph")


def package_versions():
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def record_step(adata, step, parameters):
    """Add one step's parameters (and the versions) to `uns['atacflow']`."""
    provenance = dict(adata.uns.get("atacflow", {}))
    provenance["versions"] = package_versions()
    provenance[step] = {key: ("" if value is None else value) for key, value in parameters.items()}
    adata.uns["atacflow"] = provenance
    return adata
