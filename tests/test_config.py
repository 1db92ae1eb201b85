import json

import pytest

from tabserve.config import load_settings, validate_overrides
from tabserve.errors import ConfigError


def test_defaults_reproduce_the_seed():
    settings = load_settings(environ={})
    assert settings.model == "iris"
    assert settings.data.source == "iris"
    assert settings.split.test_per_class == 5
    assert settings.search.cv == 3
    assert settings.search.scoring == "accuracy"
    grid = [(c.estimator, c.grid) for c in settings.candidates]
    assert grid == [
        ("sklearn.linear_model.LogisticRegression", {"C": [0.5, 0.75, 1.0]}),
        ("sklearn.tree.DecisionTreeClassifier", {"max_depth": [2, 3, None], "min_samples_leaf": [1, 2]}),
        ("sklearn.discriminant_analysis.LinearDiscriminantAnalysis", {}),
    ]


def test_example_iris_yaml_equals_the_defaults():
    assert (
        load_settings("examples/iris.yaml", environ={}).model_dump() == load_settings(environ={}).model_dump()
    )


def test_json_config_is_accepted(tmp_path):
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({"split": {"test_per_class": 3}, "search": {"cv": 4}}))
    settings = load_settings(path, environ={})
    assert settings.split.test_per_class == 3
    assert settings.search.cv == 4


def test_unknown_key_is_reported_with_file_and_path(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("search:\n  cvv: 3\n")
    with pytest.raises(ConfigError) as error:
        load_settings(path, environ={})
    assert str(error.value) == f"{path}: search.cvv: unknown key"


def test_bad_value_names_path_value_and_expectation(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("split:\n  test_per_class: many\n")
    with pytest.raises(ConfigError) as error:
        load_settings(path, environ={})
    message = str(error.value)
    assert message.startswith(f"{path}: split.test_per_class:")
    assert "integer" in message and "'many'" in message


def test_env_override_wins_and_is_named_in_errors():
    settings = load_settings(environ={"TABSERVE_SEARCH__CV": "5", "TABSERVE_MODEL": "flowers"})
    assert settings.search.cv == 5
    assert settings.model == "flowers"
    with pytest.raises(ConfigError, match=r"^env TABSERVE_SERVER__PORT: server.port: "):
        load_settings(environ={"TABSERVE_SERVER__PORT": "99999"})


def test_unrelated_env_vars_are_ignored():
    assert load_settings(environ={"TABSERVE_TEST_MARIADB_URL": "x", "HOME": "/"}).model == "iris"


def test_sql_source_needs_url_and_one_of_table_or_query():
    with pytest.raises(ConfigError, match=r"data: .*exactly one of data\.table or data\.query"):
        load_settings(environ={}, overrides={"data": {"source": "sql", "url": "sqlite://"}})


def test_estimator_outside_allowlist_is_refused():
    overrides = {"candidates": [{"estimator": "os.system"}]}
    with pytest.raises(
        ConfigError, match=r"candidates.0.estimator: 'os.system' is not in an allowed package"
    ):
        load_settings(environ={}, overrides=overrides)


def test_test_fraction_replaces_default_per_class_count():
    settings = load_settings(environ={}, overrides={"split": {"test_fraction": 0.2}})
    assert settings.split.test_per_class is None
    assert settings.split.test_fraction == 0.2


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "nope.yaml", environ={})


def test_overrides_are_validated_like_a_file():
    base = load_settings(environ={})
    assert validate_overrides(base, {"search": {"cv": 4}}).search.cv == 4
    with pytest.raises(ConfigError, match=r"^request body: search.cv: "):
        validate_overrides(base, {"search": {"cv": 1}})


def test_errors_never_show_passwords_or_tokens():
    url = "mysql+pymysql://tabserve:S3CRETPW@db:3306/tabserve"
    with pytest.raises(ConfigError) as error:  # a section-level error: the section is not echoed
        load_settings(environ={"TABSERVE_DATA__SOURCE": "sql", "TABSERVE_DATA__URL": url})
    assert "S3CRETPW" not in str(error.value)
    with pytest.raises(ConfigError) as error:
        load_settings(environ={}, overrides={"server": {"token": ["s3cret-token"]}})
    assert str(error.value) == "defaults: server.token: Input should be a valid string (value hidden)"
    assert "s3cret-token" not in str(error.value)
    with pytest.raises(ConfigError) as error:
        load_settings(
            environ={}, overrides={"data": {"source": "sql", "url": url, "table": "x y", "query": "q"}}
        )
    assert "S3CRETPW" not in str(error.value)


def test_numbers_are_read_as_text_for_text_settings():
    settings = load_settings(environ={"TABSERVE_SERVER__TOKEN": "12345678901234", "TABSERVE_MODEL": "2024"})
    assert settings.server.token == "12345678901234"
    assert settings.model == "2024"


def test_overriding_one_of_a_pair_clears_the_other():
    base = load_settings(environ={})
    assert validate_overrides(base, {"split": {"test_fraction": 0.2}}).split.test_per_class is None
    from_fraction = validate_overrides(base, {"split": {"test_fraction": 0.2}})
    assert validate_overrides(from_fraction, {"split": {"test_per_class": 3}}).split.test_fraction is None
    sql = validate_overrides(base, {"data": {"source": "sql", "url": "sqlite://", "query": "SELECT 1"}})
    assert validate_overrides(sql, {"data": {"table": "iris"}}).data.query is None


def test_command_line_overrides_name_their_origin():
    with pytest.raises(ConfigError, match=r"^command line: server.port: "):
        validate_overrides(load_settings(environ={}), {"server": {"port": 99999}}, origin="command line")


def test_served_models_default_to_the_model_and_keep_the_given_order():
    from tabserve.config import Settings

    assert Settings().served_models() == ["iris"]
    assert Settings(model="wine").served_models() == ["wine"]
    both = Settings.model_validate({"server": {"models": ["wine", "iris", "wine"]}})
    assert both.served_models() == ["wine", "iris"]
    assert both.server.max_loaded_versions == 4


def test_a_bad_served_model_name_is_named_with_its_path():
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"TABSERVE_SERVER__MODELS": "[iris, '../etc']"})
    assert "server.models.1" in str(caught.value)
    assert "TABSERVE_SERVER__MODELS" in str(caught.value)


def test_the_canary_realised_rule_settings_are_checked_and_can_be_turned_off():
    for key, value in (("max_accuracy_drop", 1.5), ("max_rmse_increase", -0.1), ("min_labelled_rows", 0)):
        with pytest.raises(ConfigError, match=rf"^defaults: canary\.{key}: "):
            load_settings(environ={}, overrides={"canary": {key: value}})
    settings = load_settings(environ={"TABSERVE_CANARY__MAX_ACCURACY_DROP": "null"})
    assert settings.canary.max_accuracy_drop is None and settings.canary.max_rmse_increase == 0.1
