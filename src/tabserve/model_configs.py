"""Each served model trains on its own config, never on another model's data.

A server may serve several models (``server.models``) but its config file
describes how to train one (``model``). ``server.model_configs`` names a
config file for each other model that this server may train; from that file
only what describes the model (data, split, search, candidates, task, ...) is
taken: where versions go, the gates a promotion must pass, how the server
runs and what it logs stay the server's own. A served model with neither cannot be trained from the server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tabserve.config import Settings, validate_mapping
from tabserve.config_paths import resolve_config_paths
from tabserve.config_sources import read_config_file
from tabserve.errors import ConfigError, NotAcceptedError

SERVER_SECTIONS = ("registry", "promotion", "server", "monitoring", "logging")


def training_settings(settings: Settings, model: str) -> Settings | None:
    """The settings that train ``model`` on this server, or None when it has no training config."""
    path = settings.server.model_configs.get(model)
    if path is None:
        return settings if model == settings.model else None
    raw = resolve_config_paths(read_config_file(path), str(Path(path).parent))
    named = raw.get("model")
    if named is not None and named != model:
        raise ConfigError(f"{path}: model: {named!r}, but server.model_configs lists this file for {model!r}")
    own: dict[str, Any] = settings.model_dump(mode="json", include=set(SERVER_SECTIONS))
    model_part = {key: value for key, value in raw.items() if key not in SERVER_SECTIONS}
    return validate_mapping({**own, **model_part, "model": model}, origin=str(path)).with_base_dir(
        str(Path(path).parent)
    )


def require_training_settings(settings: Settings, model: str) -> Settings:
    """``training_settings``, or a refusal that says how to give ``model`` a training config."""
    found = training_settings(settings, model)
    if found is None:
        raise NotAcceptedError(
            f"model '{model}' has no training config on this server, so it cannot be trained here "
            f"(it would train on model '{settings.model}''s data): add it to server.model_configs "
            f"({model}: path/to/{model}.yaml)"
        )
    return found


def check_model_configs(settings: Settings) -> None:
    """Fail at start for a model config that names no served model or does not load."""
    served = settings.served_models()
    for model in settings.server.model_configs:
        if model not in served:
            raise ConfigError(
                f"server.model_configs: {model!r} is not a served model (served: {', '.join(served)})"
            )
        training_settings(settings, model)
