"""ingest: read the dataset, check it, record its digest, write train/test splits."""

from kfp.dsl import Dataset, Output

from components import make_component


def ingest(
    config: dict, data_fingerprint: str, train: Output[Dataset], test: Output[Dataset]
) -> dict:
    from kfops.steps.ingest import run_ingest
    from kfops.steps.reporting import reported

    with reported("ingest"):
        result = run_ingest(config, train.path, test.path)
    summary = result.summary
    for artifact, rows in ((train, summary.train_rows), (test, summary.test_rows)):
        artifact.metadata.update({"rows": rows, "digest": summary.digest, "format": "parquet"})
    return result.to_dict()


def build(image: str):
    return make_component(ingest, image)
