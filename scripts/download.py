"""Rule download: fetch a sample sheet entry's address, keep it only if its SHA-256 matches."""

from atacflow.errors import run_job
from atacflow.steps.download import download

run_job(
    lambda: download(snakemake.params.url, snakemake.wildcards.sha256, snakemake.output[0]),  # noqa: F821
    snakemake.log[0],  # noqa: F821
)
