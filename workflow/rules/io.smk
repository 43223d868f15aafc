rule download:
    output:
        f"{DOWNLOADS_DIR}/{{sha256}}/{{name}}",
    log:
        "results/downloads/logs/{sha256}/{name}.log",
    benchmark:
        "results/downloads/benchmarks/{sha256}/{name}.tsv"
    wildcard_constraints:
        sha256="[0-9a-f]{64}",
        name=one_of(DOWNLOADED_NAMES),
    localrule: True
    conda:
        "../../envs/atacflow.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=240,
    params:
        url=download_url,
    script:
        "../../scripts/download.py"


rule unpack_matrix:
    input:
        f"{DOWNLOADS_DIR}/{{sha256}}/{{name}}{ARCHIVE_SUFFIX}",
    output:
        directory(f"{DOWNLOADS_DIR}/{{sha256}}/{{name}}"),
    log:
        "results/downloads/logs/{sha256}/{name}.unpack.log",
    benchmark:
        "results/downloads/benchmarks/{sha256}/{name}.unpack.tsv"
    wildcard_constraints:
        sha256="[0-9a-f]{64}",
        name=one_of(ARCHIVE_STEMS),
    localrule: True
    conda:
        "../../envs/atacflow.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    script:
        "../../scripts/unpack_matrix.py"


rule read_matrix:
    input:
        unpack(read_inputs),
    output:
        "results/samples/{sample}/raw.h5ad",
    log:
        "results/samples/{sample}/logs/read_matrix.log",
    benchmark:
        "results/samples/{sample}/benchmarks/read_matrix.tsv"
    wildcard_constraints:
        sample=one_of(MATRIX_SAMPLES),
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
