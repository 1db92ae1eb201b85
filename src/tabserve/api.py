"""The Python API for notebooks: ``tabserve.register`` and ``tabserve.Registry``.

Nothing here starts a server or opens a connection at import; a ``Registry``
connects on first use. By default it is the registry the CLI uses in the
current directory (``TABSERVE_CONFIG``, ``TABSERVE_*`` variables, defaults).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabserve.config import MODEL_NAME, RegistrySettings, Settings, load_settings, validate_overrides
from tabserve.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegisteredVersion:
    """What ``register`` stored: the version, whether it serves now, its metrics, how it is served."""

    name: str
    version: int
    promoted: bool
    metrics: dict[str, Any]
    serving: str
    promotion: str = ""  # why it is production now, or why not (a gate, a lower score)


class Registry:
    """A tabserve registry from Python: list, inspect, load, promote and register versions.

    ``Registry()`` is the registry the CLI uses here; ``Registry.from_config(path)`` the one a
    config file names; ``Registry(url, artifacts=...)`` one given directly. ``trusted_types``
    are this side's own: what a model file loaded here may hold beyond the built-in set.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        artifacts: str | None = None,
        s3_endpoint_url: str | None = None,
        trusted_types: Sequence[str] | None = None,
        settings: Settings | None = None,
    ) -> None:
        base = settings or load_settings()
        given = {
            "url": url,
            "artifacts": artifacts,
            "s3_endpoint_url": s3_endpoint_url,
            "trusted_types": list(trusted_types) if trusted_types is not None else None,
        }
        changes = {key: value for key, value in given.items() if value is not None}
        self.settings = validate_overrides(base, {"registry": changes}, "Registry()") if changes else base
        self._opened: Any = None

    @classmethod
    def from_config(cls, path: str | Path | None = None) -> Registry:
        """The registry a config file names (with ``TABSERVE_*`` overrides), as the CLI reads it."""
        return cls(settings=load_settings(path))

    @property
    def config(self) -> RegistrySettings:
        return self.settings.registry

    @property
    def store(self) -> Any:
        """The underlying ``tabserve.registry.ModelStore``, opened on first use."""
        if self._opened is None:
            from tabserve.registry import open_registry

            self._opened = open_registry(self.settings)
            self._opened.metadata.ensure_schema()
        return self._opened

    def close(self) -> None:
        if self._opened is not None:
            self._opened.close()
            self._opened = None

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        from tabserve.urls import redact_url

        return f"Registry({redact_url(self.config.url)!r}, artifacts={self.config.artifacts!r})"

    def models(self) -> list[str]:
        """Names of the models with at least one version."""
        return self.store.metadata.models()

    def versions(self, name: str) -> list[dict[str, Any]]:
        """Each version's summary (metrics, estimator, aliases), oldest first."""
        return [record.summary() for record in self.store.versions(name)]

    def version(self, name: str, version: int | None = None) -> dict[str, Any]:
        """One version in full, as `tabserve models show` and GET /models/{name}/versions/{v} give it;
        default: the version a server serves (production, else the newest)."""
        store = self.store
        return store.get(name, version or store.serving_version(name)).detail()

    def load(self, name: str, version: int | None = None) -> Any:
        """The fitted model of a version (default: the serving one), after its sha256 and type checks."""
        store = self.store
        return store.load_model(store.get(name, version or store.serving_version(name)))

    def promote(self, name: str, version: int, *, reason: str = "", force: bool = False) -> None:
        """Point ``production`` at this version once it passed the promotion gates (GateRefusedError
        naming each gate and its figures; ``force`` overrides them) and answered its smoke prediction
        (ConflictError naming the version and the error); servers switch to it within a reload
        interval. The move is recorded in the history with ``reason``."""
        from tabserve.promotion import promote

        promote(self.store, name, version, actor="python", reason=reason, force=force)

    def rollback(self, name: str, *, reason: str = "", force: bool = False) -> int:
        """Move ``production`` back to where it pointed before, once that version passed the gates and
        answered its smoke prediction; the version it points at now."""
        from tabserve.promotion import rollback

        return rollback(self.store, name, actor="python", reason=reason, force=force)

    def history(self, name: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """The model's alias moves, newest first: who moved which alias from and to which version,
        when, why, and whether a gate was overridden."""
        return [move.to_dict() for move in self.store.history(name, limit=limit)]

    def register(self, model: Any, **kwargs: Any) -> RegisteredVersion:
        """``tabserve.register(model, registry=self, ...)``."""
        return register(model, registry=self, **kwargs)


def as_registry(registry: Registry | Settings | str | Path | None) -> Registry:
    """A ``Registry`` from what ``register(registry=...)`` takes: one, settings, a URL or a config file."""
    if isinstance(registry, Registry):
        return registry
    if isinstance(registry, Settings):
        return Registry(settings=registry)
    if registry is None:
        return Registry()
    if isinstance(registry, str) and "://" in registry:
        return Registry(registry)
    if isinstance(registry, str | Path):
        return Registry.from_config(registry)
    raise ConfigError(
        "register: registry must be a Registry, a database URL or a config file, "
        f"got {type(registry).__name__}"
    )


def register(
    model: Any,
    *,
    name: str,
    X_sample: Any,
    feature_names: Sequence[str] | None = None,
    X_test: Any = None,
    y_test: Any = None,
    classes: Sequence[Any] | None = None,
    registry: Registry | Settings | str | Path | None = None,
    promote: bool | None = None,
    description: str | None = None,
    data_rows: int | None = None,
) -> RegisteredVersion:
    """Store a fitted scikit-learn, XGBoost or LightGBM classifier or regressor as the next version of
    model ``name``.

    ``X_sample`` (a few rows of the model's input: a DataFrame, or an array with
    ``feature_names``) gives the feature schema and checks that served answers equal
    the model's own; ``X_test``/``y_test`` give hold-out metrics and the confusion matrix, or for a
    regressor RMSE/MAE/R² and the residuals its prediction intervals come from (none without them).
    ``classes`` names the model's classes in the order of its ``classes_`` (an XGBoost classifier
    fitted on encoded labels 0..k-1): every answer then speaks these labels; ``y_test`` may be
    given in either.
    The first version of a name becomes production; for later ones ``promote`` None
    follows the registry's rule (``auto_promote`` and a hold-out score at least production's),
    True or False decide. Either way the promotion gates (the config's ``promotion`` section) must
    pass: with ``promote`` None a refused version is stored but not promoted (``promotion`` says
    why); with True the refusal raises GateRefusedError.
    ``data_rows`` is how many rows the model was fitted on (e.g. ``len(X_train)``); without it the
    version records the rows given here and says they are a sample.
    Types outside the built-in set must be in the registry config's ``trusted_types``.
    """
    from tabserve.fitted import describe_fitted, record_origin
    from tabserve.promotion import settle
    from tabserve.registration import store_version

    if not isinstance(name, str) or not re.match(MODEL_NAME, name):
        raise ConfigError(
            f"register: name {name!r} must be 1-100 letters, digits, '_', '.' or '-', starting with a "
            "letter or digit"
        )
    trained = describe_fitted(
        model,
        X_sample,
        feature_names=list(feature_names) if feature_names is not None else None,
        x_test=X_test,
        y_test=y_test,
        classes=classes,
    )
    record_origin(trained, model, data_rows)
    target = as_registry(registry)
    own = target is not registry
    try:
        store = target.store
        config = {"model": name, "registered": {"by": "tabserve.register", "description": description}}
        written = store_version(store, name, trained, config)
        version = written.version
        settled = settle(
            store,
            name,
            version,
            trained.metrics.get("holdout_score"),
            promote_now=promote,
            auto_promote=target.config.auto_promote,
            files=written.files,
            actor="register",
        )
        log.info("registered %s version %d (%s; %s)", name, version, settled.why, written.serving)
        metrics = store.get(name, version).metrics
        return RegisteredVersion(name, version, settled.promoted, metrics, written.serving, settled.why)
    finally:
        if own:
            target.close()
