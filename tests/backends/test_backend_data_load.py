"""`tabserve data load` puts iris or a CSV file into a table with sensible types, on every backend."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
import sqlalchemy as sa

from tabserve.cli import main
from tabserve.errors import DataError
from tabserve.sql import read_sql_frame
from tests.support.backends import server_url

# Server backends are marked by the `backend` fixture's params; the SQLite runs are fast tests.


@pytest.fixture(autouse=True)
def cli_in_tmp(tmp_path, monkeypatch):
    """Run the CLI in a scratch folder and put back the logging setup it replaces."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TABSERVE_CONFIG", raising=False)
    logger = logging.getLogger("tabserve")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        if handler not in saved[0]:
            handler.close()
    for handler in saved[0]:
        logger.addHandler(handler)
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


def column_types(url: str, table: str) -> dict[str, sa.types.TypeEngine]:
    engine = sa.create_engine(url)
    try:
        return {c["name"]: c["type"] for c in sa.inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def test_load_iris_creates_a_typed_table(db_url, table_name, capsys):
    code = main(["data", "load", "--from", "iris", "--to", db_url, "--table", table_name])

    assert code == 0
    assert capsys.readouterr().out.strip() == f"loaded 150 rows into table {table_name}"
    types = column_types(db_url, table_name)
    assert list(types) == ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
    for name in ("sepal_length", "sepal_width", "petal_length", "petal_width"):
        assert isinstance(types[name], sa.Float), types[name]
    assert isinstance(types["species"], sa.String) and not isinstance(types["species"], sa.Text)
    assert len(read_sql_frame(db_url, table=table_name)) == 150


def test_load_csv_keeps_integers_floats_and_long_text(db_url, table_name, tmp_path):
    csv = tmp_path / "rows.csv"
    pd.DataFrame(
        {
            "count": [1, 2, 3],
            "ratio": [0.5, 1.5, None],
            "note": ["a", "b" * 300, None],
            "label": ["x", "y", "x"],
        }
    ).to_csv(csv, index=False)

    assert main(["data", "load", "--from", str(csv), "--to", db_url, "--table", table_name]) == 0

    types = column_types(db_url, table_name)
    assert isinstance(types["count"], sa.Integer)
    assert isinstance(types["ratio"], sa.Float)
    assert isinstance(types["note"], sa.Text | sa.String)
    assert getattr(types["note"], "length", None) in (None, 65535)  # TEXT, not a VARCHAR(255) that truncates
    frame = read_sql_frame(db_url, table=table_name)
    assert frame["note"].iloc[1] == "b" * 300
    assert frame["ratio"].isna().sum() == 1


def test_existing_table_without_replace_is_one_clear_line(db_url, table_name, capsys):
    assert main(["data", "load", "--from", "iris", "--to", db_url, "--table", table_name]) == 0
    capsys.readouterr()

    code = main(["data", "load", "--from", "iris", "--to", db_url, "--table", table_name])

    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1
    assert f"'{table_name}' already exists" in err and "--replace" in err


def test_replace_overwrites_the_table(db_url, table_name, tmp_path):
    assert main(["data", "load", "--from", "iris", "--to", db_url, "--table", table_name]) == 0
    csv = tmp_path / "small.csv"
    pd.DataFrame({"a": [1.0, 2.0], "species": ["p", "q"]}).to_csv(csv, index=False)

    code = main(["data", "load", "--from", str(csv), "--to", db_url, "--table", table_name, "--replace"])

    assert code == 0
    frame = read_sql_frame(db_url, table=table_name)
    assert list(frame.columns) == ["a", "species"]
    assert len(frame) == 2


@pytest.mark.parametrize(
    "url",
    [
        "mysql+pymysql://tabserve:hunter2@127.0.0.1:1/tabserve_test",
        "postgresql+psycopg://tabserve:hunter2@127.0.0.1:1/tabserve_test",
    ],
)
def test_unreachable_server_message_hides_the_password(url, capsys):
    code = main(["data", "load", "--from", "iris", "--to", url, "--table", "iris"])

    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1
    assert "hunter2" not in err
    assert "tabserve:***@127.0.0.1:1" in err


def test_wrong_password_message_hides_it(backend, db_url, capsys):
    if backend == "sqlite":
        pytest.skip("SQLite has no passwords")
    url = sa.make_url(db_url).set(username="tabserve_no_such_user", password="hunter2")
    code = main(["data", "load", "--from", "iris", "--to", url.render_as_string(False), "--table", "iris"])

    err = capsys.readouterr().err
    assert code == 1
    assert "hunter2" not in err


def test_table_name_that_is_sql_is_refused(db_url, capsys):
    code = main(["data", "load", "--from", "iris", "--to", db_url, "--table", "iris; DROP TABLE x"])
    assert code == 1
    assert "not a plain table name" in capsys.readouterr().err


@pytest.mark.parametrize("backend", ["mariadb", "postgresql"])
def test_missing_database_says_it_was_reached_and_how_to_create_it(backend, capsys):
    url = sa.make_url(server_url(backend)).set(database="tabserve_no_such_db")

    code = main(["data", "load", "--from", "iris", "--to", url.render_as_string(False), "--table", "iris"])

    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1
    assert "cannot reach" not in err
    assert f"server at {url.host}:{url.port} answered, but it has no database 'tabserve_no_such_db'" in err
    create = "createdb" if backend == "postgresql" else "CREATE DATABASE tabserve_no_such_db"
    assert create in err


@pytest.mark.parametrize("backend", ["mariadb", "postgresql"])
def test_training_from_a_missing_database_names_data_url(backend):
    url = sa.make_url(server_url(backend)).set(database="tabserve_no_such_db")

    with pytest.raises(DataError, match=r"^data\.url: the server at .* no database 'tabserve_no_such_db'"):
        read_sql_frame(url.render_as_string(False), table="iris")
