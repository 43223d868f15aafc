rule study_regions:
    input:
        raw=expand("results/samples/{sample}/raw.h5ad", sample=MATRIX_SAMPLES),
        regions=regions_bed,
        lib=lib("study_regions"),
    output:
        "results/study/regions.bed",
    log:
        "results/study/logs/study_regions.log",
    benchmark:
        "results/study/benchmarks/study_regions.tsv"
    conda:
        "../../envs/atacflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        samples=MATRIX_SAMPLES,
        regions=regions_settings(),
    script:
        "../../scripts/study_regions.py"


rule merge_samples:
    input:
        fragments=expand(
            "results/samples/{sample}/fragments.h5ad", sample=SAMPLES.index
        ),
        regions=study_regions_file(),
        lib=lib("merge_samples"),
    output:
        merged="results/study/merged.h5ad",
        stats=report(
            "results/study/qc/peak_merge.tsv",
            caption="../../report/peak_merge.rst",
            category="1. Quality control",
            labels={"table": "regions and fragment QC per sample"},
        ),
    log:
        "results/study/logs/merge_samples.log",
    benchmark:
        "results/study/benchmarks/merge_samples.tsv"
    conda:
        "../../envs/atacflow.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        samples=list(SAMPLES.index),
        regions=regions_settings(),
    script:
        "../../scripts/merge_samples.py"
