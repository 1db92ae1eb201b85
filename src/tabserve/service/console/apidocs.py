"""/docs (Swagger UI) and /redoc from assets installed with the package, never from a CDN.

The JavaScript and CSS come from the ``fastapi-offline`` wheel (which ships
Swagger UI and ReDoc builds); the pages themselves are ours so that they load
no inline script: a small module in the console's static folder starts each
viewer. Both viewers set inline styles, so these two pages allow them.

ReDoc's bundle draws the Redocly logo from ``cdn.redoc.ly`` in its sidebar
(unconditionally, no option turns it off). The CSP would block it, but the
browser would still try another host, so /redoc gets the bundle from
``/ui/redoc.js``: the installed file with that one URL pointed at a logo of
ours in the console's static folder.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

log = logging.getLogger(__name__)

ASSETS_URL = "/ui/apidocs"
REDOC_URL = "/ui/redoc.js"
REDOC_CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
LOCAL_LOGO = b"/ui/static/redoc-logo.svg"
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


def assets_dir() -> Path:
    """Where the installed fastapi-offline wheel keeps swagger-ui-bundle.js, swagger-ui.css, redoc."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


@functools.cache
def redoc_bundle() -> bytes:
    """The installed ReDoc bundle with its one off-host URL (the sidebar logo) made local; read once."""
    bundle = (assets_dir() / "redoc.standalone.js").read_bytes()
    if REDOC_CDN_LOGO not in bundle:
        log.warning("the installed ReDoc bundle no longer names %s; served as is", REDOC_CDN_LOGO.decode())
    return bundle.replace(REDOC_CDN_LOGO, LOCAL_LOGO)


def _page(title: str, head: str, body: str) -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title>{head}</head><body>{body}</body></html>"
    )
    return HTMLResponse(html, headers={"content-security-policy": DOCS_CSP, "cache-control": "no-store"})


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui() -> HTMLResponse:
    """Swagger UI for /openapi.json, every asset from this server."""
    return _page(
        "tabserve - Swagger UI",
        f'<link rel="stylesheet" href="{ASSETS_URL}/swagger-ui.css">'
        f'<link rel="icon" href="{ASSETS_URL}/favicon.png">'
        f'<script src="{ASSETS_URL}/swagger-ui-bundle.js" defer></script>'
        '<script src="/ui/static/apidocs.js" type="module"></script>',
        '<main><div id="swagger-ui" data-openapi="/openapi.json"></div></main>',
    )


@router.get("/redoc", response_class=HTMLResponse)
def redoc() -> HTMLResponse:
    """ReDoc for /openapi.json, every asset from this server."""
    return _page(
        "tabserve - ReDoc",
        f'<link rel="icon" href="{ASSETS_URL}/favicon.png">'
        f'<script src="{REDOC_URL}" defer></script>'
        '<script src="/ui/static/apidocs.js" type="module"></script>',
        '<div id="redoc" data-openapi="/openapi.json"></div>',
    )


@router.get(REDOC_URL)
def redoc_script() -> Response:
    """ReDoc's bundle, changed so that it asks no other host for anything."""
    return Response(
        redoc_bundle(),
        media_type="text/javascript",
        headers={"cache-control": "public, max-age=3600", "x-content-type-options": "nosniff"},
    )
