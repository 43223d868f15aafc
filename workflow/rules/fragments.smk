rule count_fragments:
    input:
        raw="results/{sample}/raw.h5ad",
        lib=lib("fragments"),
    output:
        "results/{sample}/fragments.h5ad",
    params:
        count_type=config["count_type"],
    log:
        "results/{sample}/logs/count_fragments.log",
    benchmark:
        "results/{sample}/benchmarks/count_fragments.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../../scripts/count_fragments.py"
