rule count_fragments:
    input:
        raw="results/samples/{sample}/raw.h5ad",
        lib=lib("count_fragments"),
    output:
        "results/samples/{sample}/fragments.h5ad",
    log:
        "results/samples/{sample}/logs/count_fragments.log",
    benchmark:
        "results/samples/{sample}/benchmarks/count_fragments.tsv"
    conda:
        "../../envs/atacflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        count_type=config["count_type"],
    script:
        "../../scripts/count_fragments.py"
