# The kNN graph is a job of its own, read by Leiden and by the UMAP layout: a new Leiden resolution reruns no layout,
# a new min_dist no clustering.
rule neighbors:
    input:
        latent="results/study/latent.h5ad",
        lib=lib("neighbors"),
    output:
        "results/study/neighbors.h5ad",
    log:
        "results/study/logs/neighbors.log",
    benchmark:
        "results/study/benchmarks/neighbors.tsv"
    priority: 10
    conda:
        "../../envs/atacflow.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        neighbors=neighbor_settings(),
        seed=config["seed"],
    script:
        "../../scripts/neighbors.py"


rule cluster:
    input:
        latent="results/study/latent.h5ad",
        neighbors="results/study/neighbors.h5ad",
        lib=lib("cluster"),
    output:
        "results/study/leiden.h5ad",
    log:
        "results/study/logs/cluster.log",
    benchmark:
        "results/study/benchmarks/cluster.tsv"
    priority: 10
    conda:
        "../../envs/atacflow.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        resolution=config["cluster"]["resolution"],
        seed=config["seed"],
    script:
        "../../scripts/cluster.py"


# The layout's epochs are single-threaded (seeded, hence reproducible): it runs beside Leiden and the jobs that need
# only the clusters (differential accessibility, integration), not after them.
rule umap:
    input:
        neighbors="results/study/neighbors.h5ad",
        lib=lib("umap"),
    output:
        "results/study/umap.h5ad",
    log:
        "results/study/logs/umap.log",
    benchmark:
        "results/study/benchmarks/umap.tsv"
    priority: 10
    conda:
        "../../envs/atacflow.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        min_dist=config["cluster"]["min_dist"],
        seed=config["seed"],
    script:
        "../../scripts/umap.py"


rule clustered:
    input:
        clusters="results/study/leiden.h5ad",
        umap="results/study/umap.h5ad",
        lib=lib("clustered"),
    output:
        "results/study/clustered.h5ad",
    log:
        "results/study/logs/clustered.log",
    benchmark:
        "results/study/benchmarks/clustered.tsv"
    conda:
        "../../envs/atacflow.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    script:
        "../../scripts/clustered.py"


rule integration:
    input:
        clusters="results/study/leiden.h5ad",
        lib=lib("integration"),
    output:
        scores=report(
            "results/study/qc/integration.tsv",
            caption="../../report/integration.rst",
            category="3. Clusters",
            labels={"table": "integration scores"},
        ),
        cells=report(
            "results/study/qc/cells_per_cluster_and_sample.tsv",
            caption="../../report/cells_per_cluster.rst",
            category="3. Clusters",
            labels={"table": "cells per cluster and sample"},
        ),
        figure=report(
            "results/study/plots/cells_per_cluster.png",
            caption="../../report/cells_per_cluster.rst",
            category="3. Clusters",
            labels={"figure": "cells per cluster and sample"},
        ),
    log:
        "results/study/logs/integration.log",
    benchmark:
        "results/study/benchmarks/integration.tsv"
    conda:
        "../../envs/atacflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        label_key=config["integration"]["label_key"],
    script:
        "../../scripts/integration.py"
