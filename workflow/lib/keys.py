"""Where the workflow keeps its results in an AnnData, as scanpy and scvi-tools users expect them."""

LATENT_KEY = "X_poissonvi"  # obsm: posterior means of the PoissonVI latent
# obsm: coordinates of the decoded accessibility profiles, Euclidean distance = Aitchison distance (decoded_profiles.py)
DECODED_KEY = "X_poissonvi_decoded"
# config cluster.representation -> the obsm entry the kNN graph is built on
REPRESENTATION_KEYS = {"decoded": DECODED_KEY, "latent": LATENT_KEY}
CLUSTER_KEY = "leiden"  # obs: Leiden clusters
# per-cell fragment QC of the cells of a fragments file (steps/count_fragments.py, fragment_counting.py)
FRAGMENT_QC_COLUMNS = ("n_unique_fragments", "n_reads", "n_fragments_in_regions", "frip", "nucleosome_signal")
