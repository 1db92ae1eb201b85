"""The console's model page: the version table (sorted by any column on the server, 50 rows a page),
the main metric across all versions, compare, roll back, and the latest alias moves."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from tabserve.service.console import charts, views
from tabserve.service.console.pages import guarded, token_set
from tabserve.service.console.render import page
from tabserve.service.console.version_table import (
    METRIC_KEYS,
    Order,
    SortKey,
    columns_for,
    page_of,
    sort_rows,
)
from tabserve.service.deps import ModelName, State

router = APIRouter(include_in_schema=False)
HISTORY_SHOWN = 20  # the newest moves; GET /models/{name}/history pages through all of them


@router.get("/ui/models/{name}", response_class=HTMLResponse)
@guarded
def model_page(
    name: ModelName,
    state: State,
    sort: SortKey = "version",
    order: Order = "desc",
    page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
) -> HTMLResponse:
    """A model's versions: a page of the sorted table, the metric across all versions, compare, rollback."""
    slot = state.slot(name)
    summaries = state.registry.metadata.version_summaries(slot.name)
    rows = [views.version_row(v) for v in reversed(summaries)]
    scoring = next((r["scoring"] for r in rows), "score")
    chart = charts.metric_line(
        [(v["version"], v["metrics"].get("cv_score")) for v in summaries], f"CV {scoring}"
    )
    production = next((r["version"] for r in rows if r["production"]), None)
    shown, pager = page_of(sort_rows(rows, sort, order), page_number)
    history = state.registry.history(slot.name, limit=HISTORY_SHOWN)
    return page(
        "model.html",
        active="models",
        title=f"Model {slot.name}",
        auth=token_set(state),
        model=slot.name,
        count=len(rows),
        versions=[r["version"] for r in rows],
        rows=shown,
        pager=pager,
        columns=columns_for(rows),
        metric_keys=METRIC_KEYS,
        sort=sort,
        order=order,
        chart=chart,
        chart_title=f"CV {scoring}",
        production=production,
        serving=slot.predictor.version if slot.predictor else None,
        history=history,
    )
