"""The `sql` data source reads the same rows, with sensible dtypes, from every backend."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from tabserve.config import DataSettings
from tabserve.data import load_dataset, load_iris_frame
from tabserve.errors import BackendUnavailableError, DataError
from tabserve.sql import connectorx_url, read_sql_frame, write_table

pytestmark = pytest.mark.backend


def test_table_reads_back_the_rows_written(db_url, table_name):
    iris = load_iris_frame()
    write_table(iris, db_url, table_name)

    frame = read_sql_frame(db_url, table=table_name)

    assert list(frame.columns) == list(iris.columns)
    assert len(frame) == 150
    for column in ("sepal_length", "petal_width"):
        assert frame[column].dtype == np.float64
    np.testing.assert_allclose(frame["sepal_length"].to_numpy(), iris["sepal_length"].to_numpy())
    assert frame["species"].astype(str).tolist() == iris["species"].tolist()


def test_query_selects_rows_and_columns(db_url, table_name):
    write_table(load_iris_frame(), db_url, table_name)

    frame = read_sql_frame(
        db_url, query=f"SELECT petal_length, species FROM {table_name} WHERE species = 'setosa'"
    )

    assert list(frame.columns) == ["petal_length", "species"]
    assert len(frame) == 50
    assert set(frame["species"]) == {"setosa"}


def test_integers_with_and_without_nulls_get_pandas_dtypes(db_url, table_name):
    write_table(pd.DataFrame({"whole": [1, 2, 3], "gappy": [1.0, None, 3.0]}), db_url, table_name)

    frame = read_sql_frame(db_url, query=f"SELECT whole, CAST(gappy AS INTEGER) AS gappy FROM {table_name}")

    assert frame["whole"].dtype == np.int64
    assert frame["gappy"].dtype == np.float64
    assert frame["gappy"].isna().sum() == 1


def test_missing_table_names_the_table(db_url):
    with pytest.raises(DataError, match="table 'no_such_table' does not exist"):
        read_sql_frame(db_url, table="no_such_table")


def test_missing_table_message_hides_the_password():
    """The test PostgreSQL trusts local connections, so a password in the URL is accepted and ignored."""
    from tests.support.backends import server_url

    url = sa.make_url(server_url("postgresql")).set(password="hunter2")
    with pytest.raises(DataError) as caught:
        read_sql_frame(url.render_as_string(hide_password=False), table="no_such_table")
    message = str(caught.value)
    assert "table 'no_such_table' does not exist" in message
    assert "hunter2" not in message and "postgres:***@" in message


def test_training_source_sql_loads_a_dataset(db_url, table_name):
    write_table(load_iris_frame(), db_url, table_name)

    dataset = load_dataset(DataSettings(source="sql", url=db_url, table=table_name, target="species"))

    assert dataset.rows == 150
    assert list(dataset.features.columns) == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert sorted(dataset.target.unique()) == ["setosa", "versicolor", "virginica"]


def test_same_rows_give_the_same_content_hash_on_every_backend(db_url, table_name):
    write_table(load_iris_frame(), db_url, table_name)
    settings = DataSettings(source="sql", url=db_url, table=table_name)

    from_sql = load_dataset(settings)
    from_iris = load_dataset(DataSettings(source="iris"))

    assert from_sql.content_hash == from_iris.content_hash


def test_bad_query_is_a_data_error(db_url):
    with pytest.raises(DataError, match=r"query on .* failed"):
        read_sql_frame(db_url, query="SELECT no_such_column FROM no_such_table_either")


def test_unreachable_server_hides_the_password():
    url = "postgresql+psycopg://someone:hunter2@127.0.0.1:1/nothing"

    with pytest.raises(BackendUnavailableError) as caught:
        read_sql_frame(url, table="iris")

    assert "hunter2" not in str(caught.value)
    assert "***" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql+pymysql://u:p%40ss@db:3306/x", "mysql://u:p%40ss@db:3306/x"),
        ("mariadb+pymysql://u@db/x", "mysql://u@db/x"),
        (
            "postgresql+psycopg://u:pw@db:5432/x?sslmode=require",
            "postgresql://u:pw@db:5432/x?sslmode=require",
        ),
        ("postgresql://u@db/x?host=/run/postgresql", None),
        ("mysql+pymysql://u@/x?unix_socket=/run/mysqld.sock", None),
        ("sqlite:///var/data.db", None),
    ],
)
def test_connectorx_url_keeps_credentials_or_declines(url, expected):
    assert connectorx_url(url) == expected


# A result connectorx cannot read, per server: MySQL panics on a bare NULL column; PostgreSQL
# has no reader for a two-dimensional array.
_CONNECTORX_CANNOT_READ = {
    "mariadb": ("SELECT 1 AS one, NULL AS other", lambda column: column.isna().all()),
    "postgresql": ("SELECT 1 AS one, ARRAY[ARRAY[1,2],ARRAY[3,4]] AS other", lambda column: len(column) == 1),
}


@pytest.mark.parametrize("server", sorted(_CONNECTORX_CANNOT_READ))
def test_connectorx_failure_falls_back_to_pandas_with_a_log_line(server, caplog):
    from tests.support.backends import server_url

    query, other_is_read = _CONNECTORX_CANNOT_READ[server]
    with caplog.at_level(logging.WARNING, logger="tabserve.sql"):
        frame = read_sql_frame(server_url(server), query=query)
    assert frame["one"].tolist() == [1]
    assert other_is_read(frame["other"])
    assert any("falling back to pandas.read_sql" in r.getMessage() for r in caplog.records)


def test_write_table_uses_sensible_column_types(db_url, table_name):
    write_table(load_iris_frame(), db_url, table_name)

    engine = sa.create_engine(db_url)
    try:
        columns = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns(table_name)}
    finally:
        engine.dispose()

    assert isinstance(columns["sepal_length"], sa.Float)  # DOUBLE / DOUBLE PRECISION / FLOAT
    assert isinstance(columns["species"], sa.String)  # VARCHAR(255), never TEXT, for short strings
    assert not isinstance(columns["species"], sa.Text)
