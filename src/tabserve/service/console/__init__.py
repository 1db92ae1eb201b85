"""The console: a web UI at ``/`` for models, versions, training, jobs, predictions, data and drift.

Server-rendered Jinja2 pages with inline SVG charts, a few plain ES modules
for the actions (promote, roll back, train, predict), a strict
Content-Security-Policy and every asset served from the installed package, so
it works with no network. ``mount`` is the one hook the app calls; the
predict fast path never reaches any of it.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from tabserve.service.console import apidocs, data_page, drift, job_pages, model_page, pages, train_form


class _CachedStatic(StaticFiles):
    """Static files with a short cache lifetime and no content sniffing."""

    async def get_response(self, path: str, scope):  # noqa: ANN001 - Starlette's signature
        response = await super().get_response(path, scope)
        response.headers.setdefault("cache-control", "public, max-age=3600")
        response.headers["x-content-type-options"] = "nosniff"
        return response


def mount(app: FastAPI) -> None:
    """Add the console's pages, its form API, its static assets and offline /docs and /redoc to the app."""
    static = resources.files("tabserve.service.console") / "static"
    app.mount("/ui/static", _CachedStatic(directory=str(static)), name="console-static")
    app.mount(apidocs.ASSETS_URL, _CachedStatic(directory=str(apidocs.assets_dir())), name="apidocs-assets")
    routers = (
        pages.router,
        model_page.router,
        data_page.router,
        job_pages.router,
        drift.router,
        train_form.router,
        apidocs.router,
    )
    for router in routers:
        app.include_router(router)
