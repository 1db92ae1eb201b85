"""The console's drift page: is today's traffic like the training data, and does the shadow agree?

It shows what ``GET /models/{name}/drift`` and ``GET /models/{name}/shadow``
answer, read from the same in-process trackers: per feature the PSI (marked at
the usual 0.1 "watch" and 0.2 "drifted" thresholds), the shares missing, out of
the training range and unseen; the predicted class mix against the hold-out's
(a regressor: its predicted values, in the deciles of the hold-out predictions);
and, when a shadow version is set, its agreement with production (a regressor:
how far apart their values are).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from tabserve.errors import TabserveError
from tabserve.service.console import charts
from tabserve.service.console.pages import OptionalModel, OptionalVersion, guarded, token_set
from tabserve.service.console.render import page
from tabserve.service.deps import State
from tabserve.service.predict.state import ServiceState

router = APIRouter(include_in_schema=False)
WATCH_PSI = 0.1  # a feature worth a look
DRIFT_PSI = 0.2  # a feature that has moved (the server's own ``drifted`` flag uses the same)
PSI_SCALE = 0.5  # the right end of the PSI bars: anything beyond is drawn full


def share_text(value: float | None) -> str:
    """A share (0..1) as a percentage with one decimal; a dash when there are no rows to count."""
    if value is None or not math.isfinite(value):
        return "\u2013"
    return f"{100 * value:.1f} %"


def psi_level(psi: float | None) -> str:
    """'drifted' above 0.2, 'watch' above 0.1, 'stable' below, 'none' with no rows to judge."""
    if psi is None or not math.isfinite(psi):
        return "none"
    if psi > DRIFT_PSI:
        return "drifted"
    return "watch" if psi > WATCH_PSI else "stable"


def feature_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One line per feature, the most drifted first (features without a PSI last, by name)."""
    rows = []
    for name, values in (report.get("features") or {}).items():
        psi = values.get("psi")
        level = psi_level(psi)
        rows.append(
            {
                "name": name,
                "type": values.get("type", ""),
                "psi": psi if level != "none" else None,
                "bar": min(psi, PSI_SCALE) if level != "none" else 0.0,
                "level": level,
                "missing": values.get("missing_share"),
                "out_of_range": values.get("out_of_range_share"),
                "unseen": values.get("unseen_share"),
            }
        )
    rows.sort(key=lambda r: (r["psi"] is None, -(r["psi"] or 0.0), r["name"]))
    return rows


def class_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The predicted class mix of the window beside the hold-out's, per class."""
    predictions = report.get("predictions") or {}
    live, reference = predictions.get("live") or {}, predictions.get("reference") or {}
    return [
        {"label": label, "live": live.get(label), "reference": reference.get(label)} for label in reference
    ]


def shadow_pairs(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each production/shadow pair with its confusion drawn (rows: production, columns: shadow); a
    regression pair has its differences and no matrix."""
    pairs = []
    for pair in report.get("pairs") or []:
        if pair.get("kind") == "values":
            pairs.append({**pair, "matrix": None})
            continue
        confusion = pair.get("confusion") or {}
        title = f"Production v{pair['production_version']} (rows) against shadow v{pair['shadow_version']}"
        pairs.append(
            {
                **pair,
                "matrix": charts.confusion_matrix(
                    [str(label) for label in confusion.get("labels", [])],
                    confusion.get("rows_production_columns_shadow", []),
                    title,
                ),
            }
        )
    return pairs


async def _reports(state: ServiceState, model: str | None, version: int | None) -> dict[str, Any]:
    """The drift and shadow reports the JSON routes would give (after the queued rows are counted)."""
    watch = state.watch
    found: dict[str, Any] = {"drift": None, "shadow": None, "off": watch is None or watch.drift is None}
    if watch is None:
        return found
    slot = state.slot(model) if model else state.default
    await watch.channels["shadow"].flush()
    found["shadow"] = watch.shadow.report(slot.name)
    if watch.drift is not None:
        chosen = version or (slot.predictor.version if slot.predictor else None)
        if chosen is not None:
            await watch.channels["drift"].flush()
            found["drift"] = await asyncio.to_thread(watch.drift.report, slot.name, chosen)
    return found


@guarded
def _render(
    state: ServiceState, model: str | None, version: int | None, reports: dict[str, Any]
) -> HTMLResponse:
    slot = state.slot(model) if model else state.default
    versions = state.registry.metadata.version_summaries(slot.name)
    drift = reports["drift"]
    shadow = reports["shadow"] or {}
    predictions = (drift or {}).get("predictions") or {}
    return page(
        "drift.html",
        active="drift",
        title=f"Drift of {slot.name}",
        auth=token_set(state),
        models=list(state.slots),
        model=slot.name,
        versions=[v["version"] for v in reversed(versions)],
        version=drift["version"] if drift else None,
        serving=slot.predictor.version if slot.predictor else None,
        off=reports["off"],
        drift=drift,
        features=feature_rows(drift) if drift and drift.get("profile") else [],
        classes=class_rows(drift) if drift and drift.get("profile") else [],
        class_psi=predictions.get("psi"),
        prediction_kind=predictions.get("kind", "classes"),
        prediction_available=predictions.get("available", True),
        prediction_detail=predictions.get("detail", ""),
        shadow_version=shadow.get("shadow_version"),
        agreement_alert=shadow.get("agreement_alert_below"),
        pairs=shadow_pairs(shadow),
        watch_psi=WATCH_PSI,
        drift_psi=DRIFT_PSI,
        psi_scale=PSI_SCALE,
        psi_level=psi_level,
        percent_text=share_text,
    )


@router.get("/ui/drift", response_class=HTMLResponse)
async def drift_page(
    state: State, model: OptionalModel = None, version: OptionalVersion = None
) -> HTMLResponse:
    """Per-feature drift of a version's recent rows (default: the one serving), and shadow agreement."""
    try:
        reports = await _reports(state, model, version)
    except TabserveError:
        reports = {"drift": None, "shadow": None, "off": False}  # the page says what is wrong
    return await asyncio.to_thread(_render, state=state, model=model, version=version, reports=reports)
