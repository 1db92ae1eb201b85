"""/docs (Swagger UI) and /redoc from assets installed with the package, never from a CDN.

The JavaScript and CSS come from the ``fastapi-offline`` wheel (which ships
Swagger UI and ReDoc builds); the pages themselves are ours so that they load
no inline script: a small module in the console's static folder starts each
viewer. Both viewers set inline styles, so these two pages allow them.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

ASSETS_URL = "/ui/apidocs"
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
        f'<script src="{ASSETS_URL}/redoc.standalone.js" defer></script>'
        '<script src="/ui/static/apidocs.js" type="module"></script>',
        '<div id="redoc" data-openapi="/openapi.json"></div>',
    )
