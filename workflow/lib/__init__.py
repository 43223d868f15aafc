"""atacflow: single-cell ATAC-seq from Cell Ranger ATAC matrices to PoissonVI latents, clusters and DA."""

__version__ = "0.1.0"
