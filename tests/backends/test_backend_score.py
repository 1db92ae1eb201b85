"""`tabserve score` against real backends: S3 in and out (moto's server), SQL tables in and out."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from tabserve.cli import main
from tabserve.data import load_iris_frame
from tabserve.inputs import batch_from_frame
from tabserve.predictor import Predictor
from tabserve.registry import open_registry
from tabserve.sql import write_table

pytestmark = pytest.mark.backend


def iris_rows() -> pd.DataFrame:
    frame = load_iris_frame().drop(columns="species")
    frame.insert(0, "id", np.arange(len(frame)))
    return frame


def expected_labels(trained_iris) -> list[str]:
    settings, outcome = trained_iris
    registry = open_registry(settings)
    try:
        predictor = Predictor.load(registry, settings.model, outcome.version)
    finally:
        registry.close()
    frame = iris_rows()
    return predictor.predict(batch_from_frame(frame, predictor.schema)).labels


def write_config(path: Path, trained_iris, score: dict, s3_endpoint: str | None = None) -> Path:
    settings, _ = trained_iris
    registry = {"url": settings.registry.url, "artifacts": settings.registry.artifacts}
    if s3_endpoint:
        registry["s3_endpoint_url"] = s3_endpoint
    path.write_text(yaml.safe_dump({"registry": registry, "logging": {"file": None}, "score": score}))
    return path


def run_score(config: Path, capsys) -> dict:
    capsys.readouterr()
    code = main(["-c", str(config), "score", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_s3_parquet_in_and_s3_parquet_out(trained_iris, tmp_path, capsys, s3_client, s3_bucket, s3_endpoint):
    frame = iris_rows()
    for i, start in enumerate(range(0, 150, 50)):
        buffer = io.BytesIO()
        frame.iloc[start : start + 50].to_parquet(buffer)
        s3_client.put_object(Bucket=s3_bucket, Key=f"in/rows-{i}.parquet", Body=buffer.getvalue())
    s3_client.put_object(Bucket=s3_bucket, Key="in/readme.txt", Body=b"not a table")
    score = {
        "sources": [{"source": "parquet", "path": f"s3://{s3_bucket}/in/"}],
        "sink": {"format": "parquet", "path": f"s3://{s3_bucket}/out"},
        "key_columns": ["id"],
        "chunk_rows": 20,
    }
    config = write_config(tmp_path / "score.yaml", trained_iris, score, s3_endpoint)

    first = run_score(config, capsys)
    again = run_score(config, capsys)

    assert (first["partitions"], first["scored"], first["rejected"]) == (3, 150, 0)
    assert (again["skipped"], again["scored"]) == (3, 150)
    listed = s3_client.list_objects_v2(Bucket=s3_bucket, Prefix="out/")["Contents"]
    parts = sorted(o["Key"] for o in listed if o["Key"].startswith("out/part-"))
    assert len(parts) == 3
    assert len([o for o in listed if o["Key"].startswith("out/_done/")]) == 3
    frames = [
        pd.read_parquet(io.BytesIO(s3_client.get_object(Bucket=s3_bucket, Key=k)["Body"].read()))
        for k in parts
    ]
    got = pd.concat(frames).sort_values("id")
    assert got["id"].tolist() == list(range(150))
    assert got["prediction"].tolist() == expected_labels(trained_iris)


def test_s3_csv_glob_with_rejects_in_s3(trained_iris, tmp_path, capsys, s3_client, s3_bucket, s3_endpoint):
    frame = iris_rows().astype({"petal_length": object})
    frame.loc[5, "petal_length"] = "tall"
    s3_client.put_object(Bucket=s3_bucket, Key="in/a.csv", Body=frame.to_csv(index=False).encode())
    s3_client.put_object(Bucket=s3_bucket, Key="in/b.tsv", Body=b"x\ty\n")
    score = {
        "sources": [{"source": "csv", "path": f"s3://{s3_bucket}/in/*.csv"}],
        "sink": {"format": "csv", "path": f"s3://{s3_bucket}/out"},
        "key_columns": ["id"],
    }
    config = write_config(tmp_path / "score.yaml", trained_iris, score, s3_endpoint)

    summary = run_score(config, capsys)

    assert (summary["partitions"], summary["scored"], summary["rejected"]) == (1, 149, 1)
    listed = [
        o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket, Prefix="out/_rejects/")["Contents"]
    ]
    rejects = pd.read_csv(io.BytesIO(s3_client.get_object(Bucket=s3_bucket, Key=listed[0])["Body"].read()))
    assert rejects["row"].tolist() == [5]
    assert rejects["reason"].tolist() == ["row 5, column 'petal_length': expected a number, got 'tall'"]


@pytest.mark.parametrize("how", ["table", "query"])
def test_sql_table_in_and_sql_table_out(trained_iris, tmp_path, capsys, db_url, table_name, how):
    write_table(iris_rows(), db_url, table_name)
    out = f"{table_name}_out"
    source = (
        {"table": table_name} if how == "table" else {"query": f"SELECT * FROM {table_name} WHERE id >= 0"}
    )
    score = {
        "sources": [{"source": "sql", "url": db_url, **source}],
        "sink": {"format": "sql", "url": db_url, "table": out},
        "key_columns": ["id"],
        "chunk_rows": 25,
        "sql_partition_rows": 60,
    }
    config = write_config(tmp_path / "score.yaml", trained_iris, score)
    engine = sa.create_engine(db_url)
    try:
        first = run_score(config, capsys)
        again = run_score(config, capsys)
        with engine.connect() as conn:
            got = pd.read_sql(sa.text(f"SELECT * FROM {out} ORDER BY id"), conn)
            done = conn.execute(sa.text(f"SELECT COUNT(*) FROM {out}_done")).scalar_one()
    finally:
        with engine.begin() as conn:
            for name in (out, f"{out}_done", f"{out}_rejects"):
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        engine.dispose()

    assert (first["partitions"], first["scored"], first["skipped"]) == (3, 150, 0)
    assert (again["skipped"], again["scored"]) == (3, 150)
    assert done == 3
    assert got["id"].tolist() == list(range(150))
    assert got["prediction"].tolist() == expected_labels(trained_iris)
    assert set(got["model"]) == {"iris"}
    assert {c for c in got.columns if c.startswith("proba_")} == {
        "proba_setosa",
        "proba_versicolor",
        "proba_virginica",
    }


@pytest.mark.slow
def test_a_score_job_over_http_reads_a_sql_table_into_a_sql_table(trained_iris, tmp_path, db_url, table_name):
    """POST /models/iris/score on names from the config; the job process reads and writes the database."""
    from tests.support.servers import InProcessServer, copy_registry
    from tests.support.servers import write_config as server_config
    from tests.support.traffic import wait_for_job

    write_table(iris_rows(), db_url, table_name)
    out = f"{table_name}_out"
    score = {
        "sources": [{"name": "customers", "source": "sql", "url": db_url, "table": table_name}],
        "sinks": [{"name": "warehouse", "format": "sql", "url": db_url, "table": out}],
        "key_columns": ["id"],
        "sql_partition_rows": 100,
    }
    config = server_config(tmp_path, copy_registry(trained_iris[0], tmp_path / "registry"), score=score)
    engine = sa.create_engine(db_url)
    try:
        with InProcessServer(config) as server:
            server.wait()
            body = {"source": "customers", "sink": "warehouse"}
            accepted = server.client.post("/models/iris/score", json=body)
            assert accepted.status_code == 202, accepted.text
            job = wait_for_job(server, accepted.json()["id"], ("succeeded", "failed"))
        with engine.connect() as conn:
            got = pd.read_sql(sa.text(f"SELECT * FROM {out} ORDER BY id"), conn)
    finally:
        with engine.begin() as conn:
            for name in (out, f"{out}_done", f"{out}_rejects"):
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        engine.dispose()

    assert job["status"] == "succeeded", job
    assert job["progress"] == {"done": 2, "total": 2, "scored": 150, "rejected": 0}
    assert got["prediction"].tolist() == expected_labels(trained_iris)
