import pandas as pd
import pytest

from tabserve.config import DataSettings, SplitSettings
from tabserve.data import IRIS_COLUMNS, load_dataset, load_iris_frame, stratified_split
from tabserve.errors import DataError


def test_iris_has_the_seed_columns_and_labels():
    frame = load_iris_frame()
    assert list(frame.columns) == [*IRIS_COLUMNS, "species"]
    assert sorted(frame["species"].unique()) == ["setosa", "versicolor", "virginica"]
    assert len(frame) == 150


def test_split_holds_out_exactly_n_per_class():
    dataset = load_dataset(DataSettings())
    x_train, x_test, _, y_test = stratified_split(
        dataset.features, dataset.target, SplitSettings(test_per_class=5)
    )
    assert y_test.value_counts().to_dict() == {"setosa": 5, "versicolor": 5, "virginica": 5}
    assert len(x_train) == 135 and len(x_test) == 15
    assert set(x_train.index).isdisjoint(x_test.index)


def test_split_is_seeded():
    dataset = load_dataset(DataSettings())
    first = stratified_split(dataset.features, dataset.target, SplitSettings(random_state=3))[1]
    again = stratified_split(dataset.features, dataset.target, SplitSettings(random_state=3))[1]
    other = stratified_split(dataset.features, dataset.target, SplitSettings(random_state=4))[1]
    assert list(first.index) == list(again.index)
    assert list(first.index) != list(other.index)


def test_fraction_split_keeps_class_proportions():
    target = pd.Series(["a"] * 80 + ["b"] * 20, name="y")
    features = pd.DataFrame({"x": range(100)})
    _, _, y_train, y_test = stratified_split(
        features, target, SplitSettings(test_per_class=None, test_fraction=0.25)
    )
    assert y_test.value_counts().to_dict() == {"a": 20, "b": 5}
    assert y_train.value_counts().to_dict() == {"a": 60, "b": 15}


def test_too_few_rows_per_class_is_explained():
    target = pd.Series(["a"] * 10 + ["b"] * 3, name="y")
    with pytest.raises(DataError, match="for 1 class") as error:
        stratified_split(pd.DataFrame({"x": range(13)}), target, SplitSettings(test_per_class=3))
    assert "'b'" not in str(error.value)  # a label is a cell value: counted, never shown


def test_csv_missing_feature_column_names_it(tmp_path):
    path = tmp_path / "rows.csv"
    pd.DataFrame({"a": [1, 2], "y": ["p", "q"]}).to_csv(path, index=False)
    settings = DataSettings(source="csv", path=str(path), target="y", features=["a", "b"])
    with pytest.raises(DataError) as error:
        load_dataset(settings)
    assert str(error.value) == "data.features: 'b' not in the table (the table has 2 column(s))"


def test_missing_target_names_the_key_not_the_header():
    with pytest.raises(DataError) as error:
        load_dataset(DataSettings(target="specie"))
    assert "column 'specie' is not in the table" in str(error.value)
    assert "sepal_length" not in str(error.value)  # the header is the file's content


def test_missing_csv_file_is_a_data_error_without_its_path(tmp_path):
    with pytest.raises(DataError, match="does not exist") as error:
        load_dataset(DataSettings(source="csv", path=str(tmp_path / "none.csv")))
    assert "none.csv" not in str(error.value)


def test_data_errors_never_echo_file_contents_or_cells(tmp_path):
    """A file that is not the expected table: its header and its labels stay out of errors."""
    secret = tmp_path / "secrets.csv"
    secret.write_text("user,password\nroot,hunter2\nadmin,s3cr3t-pw\n")
    with pytest.raises(DataError) as error:
        load_dataset(DataSettings(source="csv", path=str(secret), target="species"))
    assert "password" not in str(error.value) and "user" not in str(error.value)
    dataset = load_dataset(DataSettings(source="csv", path=str(secret), target="password"))
    with pytest.raises(DataError) as error:
        stratified_split(
            dataset.features, dataset.target, SplitSettings(test_per_class=None, test_fraction=0.5)
        )
    assert "hunter2" not in str(error.value) and "s3cr3t-pw" not in str(error.value)
    assert "2 class(es) have a single row" in str(error.value)
    binary = tmp_path / "os-release"
    binary.write_bytes(b'NAME="Secret OS"\n\x00\xff\xfe"a,"b\n')
    with pytest.raises(DataError) as error:
        load_dataset(DataSettings(source="csv", path=str(binary), target="x"))
    assert "Secret" not in str(error.value)


def test_content_hash_is_stable_and_sensitive(tmp_path):
    path = tmp_path / "rows.csv"
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "y": ["p", "q", "p"]})
    frame.to_csv(path, index=False)
    settings = DataSettings(source="csv", path=str(path), target="y")
    first = load_dataset(settings)
    assert load_dataset(settings).content_hash == first.content_hash
    assert first.rows == 3
    frame.loc[0, "a"] = 1.5
    frame.to_csv(path, index=False)
    assert load_dataset(settings).content_hash != first.content_hash


def test_sql_source_reads_a_table_and_a_query(tmp_path):
    from tabserve.sql import write_table

    url = f"sqlite:///{tmp_path / 'data.db'}"
    write_table(load_iris_frame(), url, "iris")
    from_table = load_dataset(DataSettings(source="sql", url=url, table="iris"))
    assert from_table.rows == 150
    query = "SELECT * FROM iris WHERE species != 'setosa'"
    from_query = load_dataset(DataSettings(source="sql", url=url, query=query))
    assert from_query.rows == 100
    assert list(from_query.features.columns) == IRIS_COLUMNS
