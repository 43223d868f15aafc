rule filter_cells_regions:
    input:
        merged="results/study/merged.h5ad",
        lib=lib("filter_cells_regions"),
    output:
        filtered="results/study/filtered.h5ad",
        stats=report(
            "results/study/qc/filtering.tsv",
            caption="../../report/filtering.rst",
            category="1. Quality control",
            labels={"table": "filtering"},
        ),
    log:
        "results/study/logs/filter_cells_regions.log",
    benchmark:
        "results/study/benchmarks/filter_cells_regions.tsv"
    conda:
        "../../envs/atacflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        filter=config["filter"],
    script:
        "../../scripts/filter_cells_regions.py"
