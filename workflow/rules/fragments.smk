rule fragments_from_matrix:
    input:
        raw="results/samples/{sample}/raw.h5ad",
        lib=lib("fragments_from_matrix"),
    output:
        "results/samples/{sample}/fragments.h5ad",
    log:
        "results/samples/{sample}/logs/fragments_from_matrix.log",
    benchmark:
        "results/samples/{sample}/benchmarks/fragments_from_matrix.tsv"
    wildcard_constraints:
        sample=one_of([s for s in MATRIX_SAMPLES if s not in FRAGMENT_SAMPLES]),
    conda:
        "../../envs/atacflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        count_type=config["count_type"],
    script:
        "../../scripts/fragments_from_matrix.py"


rule count_fragments:
    input:
        unpack(count_inputs),
    output:
        counts="results/samples/{sample}/fragments.h5ad",
        qc="results/samples/{sample}/qc/fragments_per_cell.tsv",
        lengths="results/samples/{sample}/qc/fragment_lengths.tsv",
    log:
        "results/samples/{sample}/logs/count_fragments.log",
    benchmark:
        "results/samples/{sample}/benchmarks/count_fragments.tsv"
    wildcard_constraints:
        sample=one_of(FRAGMENT_SAMPLES),
    conda:
        "../../envs/atacflow.yaml"
    threads: config["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        cells=count_cells,
        regions=count_regions,
        annotation=count_annotation,
        cell_metadata=count_cell_metadata,
    script:
        "../../scripts/count_fragments.py"
