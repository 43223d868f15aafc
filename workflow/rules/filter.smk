rule filter_cells_regions:
    input:
        fragments="results/{sample}/fragments.h5ad",
        lib=lib("filter_cells_regions"),
    output:
        filtered="results/{sample}/filtered.h5ad",
        stats=report(
            "results/{sample}/qc/filtering.tsv",
            caption="../../report/filtering.rst",
            category="1. Quality control",
            labels={"sample": "{sample}", "table": "filtering"},
        ),
    log:
        "results/{sample}/logs/filter_cells_regions.log",
    benchmark:
        "results/{sample}/benchmarks/filter_cells_regions.tsv"
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
