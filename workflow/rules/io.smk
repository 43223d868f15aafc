rule read_matrix:
    input:
        unpack(read_inputs),
    output:
        "results/samples/{sample}/raw.h5ad",
    log:
        "results/samples/{sample}/logs/read_matrix.log",
    benchmark:
        "results/samples/{sample}/benchmarks/read_matrix.tsv"
    conda:
        "../../envs/atacflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        matrix=matrix_path,
        cell_metadata=cell_metadata_path,
        annotation=sample_annotation,
        barcode_suffix=barcode_suffix,
    script:
        "../../scripts/read_matrix.py"
