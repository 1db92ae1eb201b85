"""Jinja2 rendering for the console: autoescaped templates and the security headers every page gets.

Every value that reaches a template may be user data (model, column and
category names), so autoescaping is on for all templates and nothing is
marked safe except the SVG built (and escaped) in ``charts``.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from tabserve import __version__
from tabserve.service.console import fmt
from tabserve.service.console.nav import NAV

# No inline script or style anywhere: scripts and CSS come from /ui/static only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


@functools.cache
def environment() -> Environment:
    """Built once per process; templates are compiled on first use and kept."""
    env = Environment(
        loader=PackageLoader("tabserve.service.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        iso=fmt.iso,
        num=fmt.num,
        signed=fmt.signed,
        short_estimator=fmt.short_estimator,
        params_text=fmt.params_text,
        short_hash=fmt.short_hash,
        pretty_json=fmt.pretty_json,
    )
    env.globals.update(nav=NAV, app_version=__version__, percent=fmt.percent)
    return env


def page(
    template: str, *, active: str, title: str, auth: bool = False, status: int = 200, **values: Any
) -> HTMLResponse:
    """Render a console page with the navigation, security headers and the given values.

    ``auth`` says whether this server wants a bearer token for mutating routes,
    so the page's script asks for one before the first promote, rollback or training.
    """
    now = time.time()
    html = (
        environment()
        .get_template(template)
        .render(
            active=active,
            title=title,
            auth_required=auth,
            now=now,
            ago=lambda ts: fmt.ago(ts, now),
            duration=lambda a, b: fmt.duration(a, b, now),
            **values,
        )
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
