"""The console's data page: the configured training data summarised, beside the chosen version.

A classifier's target is shown as rows per class; a regressor's (a quantity) as
a histogram of its values, since counting hundreds of distinct prices as
classes says nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from tabserve.errors import TabserveError
from tabserve.model_configs import training_settings
from tabserve.service.console import charts
from tabserve.service.console.pages import (
    OptionalModel,
    OptionalVersion,
    _model_or_default,
    _version_choice,
    guarded,
    token_set,
)
from tabserve.service.console.render import page
from tabserve.service.console.summary import SummaryCache
from tabserve.service.deps import State

router = APIRouter(include_in_schema=False)
SUMMARIES = SummaryCache()  # one per process: the data is read at most once a minute


@router.get("/ui/data", response_class=HTMLResponse)
@guarded
def data_page(state: State, model: OptionalModel = None, version: OptionalVersion = None) -> HTMLResponse:
    """The configured training data, summarised per feature, compared with the version's data hash;
    the pairplot is the one stored with the chosen version (the rows it was trained on)."""
    chosen = _model_or_default(state, model)
    listing, record = _version_choice(state, chosen, version)
    values: dict[str, Any] = {"summary": None, "error": None, "regression": False, "target_chart": None}
    try:
        training = training_settings(state.settings, chosen)
        # The chosen version's task; with no version yet, the one the config names.
        values["regression"] = (
            record.is_regression if record else bool(training and training.task == "regression")
        )
        if training is None:
            values["error"] = (
                f"Model {chosen} has no training config on this server (server.model_configs), "
                "so there is no configured training data to show."
            )
        else:
            values["summary"] = SUMMARIES.get(training.data)
            bins = values["summary"].target_bins
            if values["regression"] and bins is not None:
                values["target_chart"] = charts.histogram(bins, f"Rows by {training.data.target}")
    except TabserveError as exc:
        values["error"] = f"The training data cannot be read now: {str(exc)[:300]}"
    return page(
        "data.html",
        active="data",
        title="Training data",
        auth=token_set(state),
        models=list(state.slots),
        model=chosen,
        versions=[v["version"] for v in listing],
        version=record.version if record else None,
        version_hash=record.data_hash if record else None,
        stored_pairplot=bool(record and "pairplot" in record.artifacts),
        **values,
    )
