"""Where the workflow keeps its results in an AnnData, as scanpy and scvi-tools users expect them."""

LATENT_KEY = "X_poissonvi"  # obsm: posterior means of the PoissonVI latent
CLUSTER_KEY = "leiden"  # obs: Leiden clusters
