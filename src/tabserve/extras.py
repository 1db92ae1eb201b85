"""What this install can do: serving always; training and drawing only with the `train` extra;
a MySQL/MariaDB, PostgreSQL or S3 backend only with its own extra.

The serving image installs tabserve without ``[train]`` (no matplotlib, seaborn,
skl2onnx, connectorx or Dask), so a server there must say "this install serves
only" instead of failing deep inside an import. A plain install has no database
driver beyond SQLite and no S3 client, so a config naming one of those backends
is told which extra to install instead of meeting a bare ModuleNotFoundError.
Looked up without importing the packages, so asking costs the server nothing.
"""

from __future__ import annotations

from importlib.util import find_spec

from tabserve.errors import ConfigError, ServeOnlyError

TRAIN_MODULES = ("matplotlib", "seaborn", "skl2onnx")  # what training itself imports
PLOT_MODULES = ("matplotlib", "seaborn")
HOW_TO_TRAIN = "train with the tabserve-train image, or install tabserve[train]"
# The driver module of each backend extra: SQLAlchemy's driver name for a database URL
# (``mysql+pymysql://``, ``postgresql+psycopg://``), the client for ``s3://`` artifacts.
BACKEND_EXTRAS = {"pymysql": "mysql", "psycopg": "postgres", "boto3": "s3"}


def missing(modules: tuple[str, ...]) -> list[str]:
    """The top-level modules of ``modules`` this interpreter cannot import."""
    absent = []
    for name in modules:
        try:
            found = find_spec(name) is not None
        except (ImportError, ValueError):  # a blocked or half-installed package
            found = False
        if not found:
            absent.append(name)
    return absent


def can_draw() -> bool:
    """Whether pictures can be drawn here (matplotlib and seaborn are installed)."""
    return not missing(PLOT_MODULES)


def require_drawing(action: str) -> None:
    """Raise ServeOnlyError naming ``action`` when matplotlib or seaborn is not installed."""
    _require(PLOT_MODULES, action, "draw")


def require_train_extra(action: str) -> None:
    """Raise ServeOnlyError naming ``action`` when the `train` extra is not installed."""
    _require(TRAIN_MODULES, action, "train")


def _require(modules: tuple[str, ...], action: str, cannot: str) -> None:
    absent = missing(modules)
    if absent:
        raise ServeOnlyError(
            f"{action}: this install serves models only and cannot {cannot} "
            f"({', '.join(absent)} not installed); {HOW_TO_TRAIN}"
        )


def require_backend(module: str, what: str) -> None:
    """Raise ConfigError naming the extra to install when ``module``, the driver that ``what``
    (a backend, never its URL) needs, is not installed; other modules are not checked here."""
    extra = BACKEND_EXTRAS.get(module)
    if extra is not None and missing((module,)):
        raise ConfigError(
            f"{what} needs the {module} package, which this install lacks; "
            f"install tabserve[{extra}] (pip install 'tabserve[{extra}]')"
        )
