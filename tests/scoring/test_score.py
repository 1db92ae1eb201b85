"""`tabserve score`: local CSV and Parquet, folders and globs, rejects, resume, and a Dask cluster."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tabserve.cli import main
from tabserve.data import load_iris_frame
from tabserve.errors import InputError
from tabserve.inputs import parse_payload
from tabserve.predictor import Predictor
from tabserve.registry import open_registry

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture
def config(trained_iris, tmp_path: Path) -> Path:
    settings, _ = trained_iris
    path = tmp_path / "score.yaml"
    registry = {"url": settings.registry.url, "artifacts": settings.registry.artifacts}
    path.write_text(yaml.safe_dump({"registry": registry, "logging": {"file": None}}))
    return path


@pytest.fixture
def predictor(trained_iris) -> Predictor:
    settings, outcome = trained_iris
    registry = open_registry(settings)
    try:
        return Predictor.load(registry, settings.model, outcome.version)
    finally:
        registry.close()


def iris_rows() -> pd.DataFrame:
    frame = load_iris_frame().drop(columns="species")
    frame.insert(0, "id", np.arange(len(frame)))
    return frame


def score(config: Path, capsys, *args: str) -> dict:
    capsys.readouterr()
    code = main(["-c", str(config), "score", "--json", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def read_parts(folder: Path) -> pd.DataFrame:
    parts = sorted(folder.glob("part-*"))
    assert parts, "no part files"
    frames = [pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p) for p in parts]
    frame = pd.concat(frames).sort_values("id").reset_index(drop=True)
    return frame.astype({"prediction": str, "model": str})  # Parquet keeps them as categories


def pieces(frame: pd.DataFrame, count: int) -> list[pd.DataFrame]:
    size = -(-len(frame) // count)
    return [frame.iloc[i : i + size] for i in range(0, len(frame), size)]


def expected(predictor: Predictor, frame: pd.DataFrame) -> pd.DataFrame:
    from tabserve.inputs import batch_from_frame

    result = predictor.predict(batch_from_frame(frame, predictor.schema))
    out = pd.DataFrame({"id": frame["id"].to_numpy(), "prediction": result.labels})
    for i, label in enumerate(result.classes):
        out[f"proba_{label}"] = result.probabilities[:, i]
    out["model"] = predictor.model
    out["version"] = predictor.version
    return out.astype({"prediction": str, "model": str})


def test_csv_file_scores_every_row_with_keys_probabilities_model_and_version(
    config, tmp_path, capsys, predictor
):
    frame = iris_rows()
    frame.to_csv(tmp_path / "rows.csv", index=False)

    summary = score(
        config, capsys, "--input", str(tmp_path / "rows.csv"), "--output", str(tmp_path / "out"),
        "--key-columns", "id", "--chunk-rows", "40",
    )  # fmt: skip

    counts = {"partitions": 1, "skipped": 0, "scored": 150, "rejected": 0}
    assert summary == {"model": "iris", "version": predictor.version, **counts}
    got = read_parts(tmp_path / "out")
    pd.testing.assert_frame_equal(got, expected(predictor, frame), check_dtype=False)


def test_parquet_in_csv_out_equals_the_predictors_answers(config, tmp_path, capsys, predictor):
    frame = iris_rows()
    frame.to_parquet(tmp_path / "rows.parquet", row_group_size=30)

    score(
        config, capsys, "--input", str(tmp_path / "rows.parquet"), "--output", str(tmp_path / "out"),
        "--format", "csv", "--key-columns", "id", "--chunk-rows", "25",
    )  # fmt: skip

    got = read_parts(tmp_path / "out")
    assert list(got.columns) == list(expected(predictor, frame).columns)
    pd.testing.assert_frame_equal(got, expected(predictor, frame), check_dtype=False)


def test_a_folder_gives_a_part_per_file_and_a_glob_only_its_matches(config, tmp_path, capsys, predictor):
    frame = iris_rows()
    folder = tmp_path / "in"
    folder.mkdir()
    for i, piece in enumerate(pieces(frame, 3)):
        piece.to_csv(folder / f"rows-{i}.csv", index=False)
    (folder / "notes.txt.bak").write_text("not a table")

    whole = score(
        config, capsys, "--input", str(folder), "--output", str(tmp_path / "all"), "--key-columns", "id"
    )
    some = score(
        config, capsys, "--input", str(folder / "rows-[01].csv"), "--output", str(tmp_path / "some"),
        "--key-columns", "id",
    )  # fmt: skip

    assert (whole["partitions"], whole["scored"]) == (3, 150)
    assert (some["partitions"], some["scored"]) == (2, 100)
    assert len(list((tmp_path / "all").glob("part-*.parquet"))) == 3
    pd.testing.assert_frame_equal(read_parts(tmp_path / "all"), expected(predictor, frame), check_dtype=False)
    assert sorted(read_parts(tmp_path / "some")["id"]) == list(range(100))


def http_reason(values: list) -> str:
    with pytest.raises(InputError) as caught:
        parse_payload([values], PREDICTOR_SCHEMA[0], 1)
    return str(caught.value)


PREDICTOR_SCHEMA: list = []


def test_rows_that_fail_validation_go_to_the_rejects_with_the_http_reason(
    config, tmp_path, capsys, predictor
):
    PREDICTOR_SCHEMA[:] = [predictor.schema]
    frame = iris_rows().astype({"sepal_length": object, "petal_width": object})
    frame.loc[3, "sepal_length"] = "abc"
    frame.loc[70, "petal_width"] = math.inf
    frame.loc[71, "petal_width"] = None  # missing: imputed, not rejected
    frame.to_csv(tmp_path / "rows.csv", index=False)

    summary = score(
        config, capsys, "--input", str(tmp_path / "rows.csv"), "--output", str(tmp_path / "out"),
        "--key-columns", "id", "--chunk-rows", "50",
    )  # fmt: skip

    assert (summary["scored"], summary["rejected"]) == (148, 2)
    rejects = pd.read_csv(next((tmp_path / "out" / "_rejects").glob("rejects-*.csv")))
    assert rejects["row"].tolist() == [3, 70]
    first = http_reason(["abc", 3.5, 1.4, 0.2]).replace("row 0", "row 3")
    second = http_reason([7.0, 3.2, 4.7, math.inf]).replace("row 0", "row 70")
    assert rejects["reason"].tolist() == [first, second]
    assert "column 'sepal_length'" in first and "column 'petal_width'" in second
    got = read_parts(tmp_path / "out")
    assert 3 not in set(got["id"]) and 70 not in set(got["id"]) and 71 in set(got["id"])


def test_a_rerun_skips_finished_partitions_and_redoes_a_half_written_one(config, tmp_path, capsys, predictor):
    folder = tmp_path / "in"
    folder.mkdir()
    frame = iris_rows()
    for i, piece in enumerate(pieces(frame, 3)):
        piece.to_csv(folder / f"rows-{i}.csv", index=False)
    out = tmp_path / "out"
    args = ["--input", str(folder), "--output", str(out), "--key-columns", "id"]
    score(config, capsys, *args)
    before = {p.name: p.read_bytes() for p in out.glob("part-*")}

    # A run killed while writing its last partition: the part is cut short and its marker not written.
    markers = sorted((out / "_done").glob("*.json"))
    victim = markers[-1].stem
    markers[-1].unlink()
    part = out / f"part-{victim}.parquet"
    part.write_bytes(part.read_bytes()[:100])

    again = score(config, capsys, *args)

    assert (again["partitions"], again["skipped"], again["scored"]) == (3, 2, 150)
    assert {p.name: p.read_bytes() for p in out.glob("part-*")} == before
    assert not list(out.glob(".partial-*"))
    third = score(config, capsys, *args)
    assert third["skipped"] == 3


def test_chunk_size_changes_nothing_in_the_answers(config, tmp_path, capsys):
    iris_rows().to_parquet(tmp_path / "rows.parquet")
    for rows in ("7", "1000"):
        score(
            config, capsys, "--input", str(tmp_path / "rows.parquet"), "--output", str(tmp_path / rows),
            "--key-columns", "id", "--chunk-rows", rows,
        )  # fmt: skip
    pd.testing.assert_frame_equal(read_parts(tmp_path / "7"), read_parts(tmp_path / "1000"))


def test_a_missing_feature_column_stops_with_a_clear_error(config, tmp_path, capsys):
    iris_rows().drop(columns="petal_width").to_csv(tmp_path / "rows.csv", index=False)
    code = main(
        ["-c", str(config), "score", "--input", str(tmp_path / "rows.csv"), "--output", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "lacks the model's column(s) petal_width" in err
    assert not list((tmp_path / "o").glob("part-*"))


def test_nothing_to_score_is_a_usage_error(config, tmp_path, capsys):
    assert main(["-c", str(config), "score", "--output", str(tmp_path / "o")]) == 2
    assert "nothing to score" in capsys.readouterr().err


@pytest.mark.slow
def test_a_dask_cluster_writes_the_same_output_as_a_local_run(config, tmp_path, capsys):
    from dask.distributed import LocalCluster

    folder = tmp_path / "in"
    folder.mkdir()
    for i, piece in enumerate(pieces(iris_rows(), 4)):
        piece.to_parquet(folder / f"rows-{i}.parquet")
    args = ["--input", str(folder), "--key-columns", "id", "--chunk-rows", "20"]
    local = score(config, capsys, *args, "--output", str(tmp_path / "local"))
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        remote = score(
            config,
            capsys,
            *args,
            "--output",
            str(tmp_path / "dask"),
            "--dask-address",
            cluster.scheduler_address,
        )

    assert remote == local
    files = {p.name: p.read_bytes() for p in (tmp_path / "local").glob("part-*")}
    assert files and {p.name: p.read_bytes() for p in (tmp_path / "dask").glob("part-*")} == files


def test_progress_lines_off_a_terminal_and_a_version_that_does_not_exist(config, tmp_path, capsys):
    iris_rows().to_csv(tmp_path / "rows.csv", index=False)
    args = [
        "-c",
        str(config),
        "score",
        "--input",
        str(tmp_path / "rows.csv"),
        "--output",
        str(tmp_path / "o"),
    ]

    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "partitions done: 1/1" in err
    assert "150 rows scored, 0 rejected" in out
    assert main([*args, "--model-version", "99"]) == 1
    assert "version 99" in capsys.readouterr().err


def test_an_output_of_another_version_is_refused(config, tmp_path, capsys, predictor):
    iris_rows().to_csv(tmp_path / "rows.csv", index=False)
    out = tmp_path / "o"
    score(config, capsys, "--input", str(tmp_path / "rows.csv"), "--output", str(out))
    marker = next((out / "_done").glob("*.json"))
    marker.write_text(marker.read_text().replace(f'"version": {predictor.version}', '"version": 12345'))

    code = main(["-c", str(config), "score", "--input", str(tmp_path / "rows.csv"), "--output", str(out)])

    assert code == 1
    assert "already holds answers of model iris version 12345" in capsys.readouterr().err


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def houses(tmp_path_factory) -> Path:
    """The regression example trained once in a folder of its own."""
    import shutil

    root = tmp_path_factory.mktemp("score-regression")
    for name in ("regression.yaml", "houses.csv", "houses-rows.csv"):
        shutil.copy(EXAMPLES / name, root / name)
    with open(root / "regression.yaml", "a") as config:
        registry = f"{{url: 'sqlite:///{root}/registry.db', artifacts: '{root}/artifacts', pictures: false}}"
        config.write(f"registry: {registry}\nlogging: {{file: null}}\n")
    assert main(["train", "-c", str(root / "regression.yaml")]) == 0
    return root


def test_a_regressor_scores_values_and_intervals_with_a_categorical_column(houses, capsys):
    from tabserve.config import load_settings

    config = houses / "regression.yaml"
    rows = pd.read_csv(houses / "houses-rows.csv")
    summary = score(
        config, capsys, "--input", str(houses / "houses-rows.csv"), "--output", str(houses / "out"),
        "--interval", "0.8", "--key-columns", "area",
    )  # fmt: skip
    settings = load_settings(config, environ={})
    registry = open_registry(settings)
    try:
        regressor = Predictor.load(registry, settings.model)
    finally:
        registry.close()
    from tabserve.inputs import batch_from_frame

    want = regressor.predict(batch_from_frame(rows, regressor.schema), interval=0.8)

    assert (summary["scored"], summary["rejected"]) == (len(rows), 0)
    got = pd.read_parquet(next((houses / "out").glob("part-*.parquet")))
    assert list(got.columns) == ["area", "prediction", "lower", "upper", "model", "version"]
    np.testing.assert_allclose(got["prediction"], want.values)
    np.testing.assert_allclose(got["lower"], want.interval.lower)
    np.testing.assert_allclose(got["upper"], want.interval.upper)


def test_a_parquet_file_of_mixed_types_scores_the_same_in_any_chunk_size(config, tmp_path, capsys, predictor):
    """Integer features with nulls, text and float keys with gaps, an unused column and a row to
    reject: every chunk after a part's first is built in that first chunk's schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    PREDICTOR_SCHEMA[:] = [predictor.schema]
    frame = iris_rows()
    frame["name"] = [f"r{i}" if i % 7 else None for i in range(len(frame))]
    frame["weight"] = frame["id"] * 0.5
    frame.loc[11, "weight"] = np.nan
    frame.loc[5, "petal_width"] = math.inf
    frame["unused"] = [[i] for i in range(len(frame))]
    table = pa.Table.from_pandas(frame, preserve_index=False)
    gaps = np.arange(len(frame)) % 13 == 0
    whole = np.round(frame["sepal_width"].to_numpy()).astype("int32")
    at = table.schema.get_field_index("sepal_width")
    table = table.set_column(at, "sepal_width", pa.array(whole, mask=gaps))
    pq.write_table(table, tmp_path / "rows.parquet", row_group_size=40)

    for rows in ("20", "1000"):
        summary = score(
            config, capsys, "--input", str(tmp_path / "rows.parquet"), "--output", str(tmp_path / rows),
            "--key-columns", "id,name,weight", "--chunk-rows", rows,
        )  # fmt: skip
        assert (summary["scored"], summary["rejected"]) == (149, 1)

    small, large = (pq.read_table(next((tmp_path / r).glob("part-*"))) for r in ("20", "1000"))
    assert small.equals(large) and small.schema.equals(large.schema, check_metadata=True)
    # Key ranges per row group, for readers that skip by key; none for the answers (nothing to skip).
    group = pq.ParquetFile(next((tmp_path / "20").glob("part-*"))).metadata.row_group(1)
    stats = {group.column(i).path_in_schema: group.column(i).statistics for i in range(group.num_columns)}
    assert (stats["id"].min, stats["id"].max) == (20, 39)
    assert stats["proba_setosa"] is None or not stats["proba_setosa"].has_min_max
    rejects = pd.read_csv(next((tmp_path / "20" / "_rejects").glob("rejects-*.csv")))
    assert rejects["row"].tolist() == [5]
    assert rejects["reason"].tolist() == [http_reason([5.4, 3.9, 1.7, math.inf]).replace("row 0", "row 5")]
    kept = frame.drop(index=5).reset_index(drop=True)
    kept["sepal_width"] = np.where(gaps, np.nan, whole)[kept["id"]]
    got = read_parts(tmp_path / "20")
    want = expected(predictor, kept)
    pd.testing.assert_frame_equal(got.drop(columns=["name", "weight"]), want, check_dtype=False)
    assert got["name"].tolist() == kept["name"].tolist()
    np.testing.assert_array_equal(got["weight"].to_numpy(), kept["weight"].to_numpy())


def test_a_parquet_file_into_a_sql_table_keeps_text_keys_and_rejects(config, tmp_path, capsys, predictor):
    import sqlalchemy as sa

    frame = iris_rows()
    frame["name"] = [f"r{i}" if i % 7 else None for i in range(len(frame))]
    frame.loc[8, "sepal_length"] = math.inf
    frame.to_parquet(tmp_path / "rows.parquet", row_group_size=40)
    url = f"sqlite:///{tmp_path / 'answers.db'}"
    settings = yaml.safe_load(config.read_text())
    settings["score"] = {
        "sources": [{"source": "parquet", "path": str(tmp_path / "rows.parquet")}],
        "sink": {"format": "sql", "url": url, "table": "answers"},
        "key_columns": ["id", "name"],
        "chunk_rows": 30,
    }
    config.write_text(yaml.safe_dump(settings))

    summary = score(config, capsys)

    assert (summary["scored"], summary["rejected"]) == (149, 1)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            got = pd.read_sql(sa.text("SELECT * FROM answers ORDER BY id"), conn)
            rejected = pd.read_sql(sa.text("SELECT * FROM answers_rejects"), conn)
    finally:
        engine.dispose()
    kept = frame.drop(index=8).reset_index(drop=True)
    assert got["name"].tolist() == kept["name"].tolist()
    pd.testing.assert_frame_equal(got.drop(columns="name"), expected(predictor, kept), check_dtype=False)
    assert rejected["row"].tolist() == [8]
