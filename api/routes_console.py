"""The operator console (``/console``) and the offline API docs (``/docs``, ``/redoc``).

Everything a browser loads here is a file shipped with the project: the console's HTML, JavaScript,
CSS and i18n table live in ``api/static/console/``; Swagger UI and Redoc come from the ``fastapi-offline``
package installed with the project. Nothing is fetched from a CDN, so both work on a duty-room network
with no internet. The pages themselves are public (they hold no data); every call they make to the API
carries the operator's bearer token.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from lifeline.api.exceptions import NotFoundError

__all__ = ["CONSOLE_DIR", "DOCS_ASSET_PREFIX", "PUBLIC_PATHS", "console_url", "docs_assets_dir", "router"]

CONSOLE_DIR = Path(__file__).parent / "static" / "console"
DOCS_ASSET_PREFIX = "/docs-assets"
_OPENAPI_URL = "/openapi.json"
_MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".json": "application/json", ".png": "image/png",
                ".svg": "image/svg+xml"}  # fmt: skip


def docs_assets_dir() -> Path:
    """The folder of Swagger UI and Redoc files installed by the ``fastapi-offline`` package."""
    return Path(str(files("fastapi_offline") / "static"))


def _listing(folder: Path) -> dict[str, Path]:
    """Servable files of ``folder`` by name (a fixed list: no path from the request reaches the disk)."""
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix in _MEDIA_TYPES}


_CONSOLE_FILES = _listing(CONSOLE_DIR)
_DOCS_FILES = _listing(docs_assets_dir())
#: paths the request guard lets through without a token (pages and static files, never data)
PUBLIC_PATHS = frozenset(
    {"/console", "/console/", *(f"/console/{name}" for name in _CONSOLE_FILES),
     *(f"{DOCS_ASSET_PREFIX}/{name}" for name in _DOCS_FILES)}
)  # fmt: skip

router = APIRouter(include_in_schema=False)


def console_url(base_url: str, token: str | None = None) -> str:
    """The console's address; with ``token`` a ready login in the URL fragment (browsers never send it)."""
    url = f"{base_url.rstrip('/')}/console/"
    return f"{url}#token={token}" if token else url


def _file(listing: dict[str, Path], name: str) -> FileResponse:
    path = listing.get(name)
    if path is None:
        raise NotFoundError(f"no file {name!r}")
    return FileResponse(path, media_type=_MEDIA_TYPES[path.suffix])


@router.get("/console")
def console_redirect() -> Response:
    """``/console`` → ``/console/`` so the page's relative asset links resolve."""
    return RedirectResponse("/console/", status_code=307)


@router.get("/console/")
def console_page() -> FileResponse:
    """The console's single page."""
    return _file(_CONSOLE_FILES, "index.html")


@router.get("/console/{name}")
def console_asset(name: str) -> FileResponse:
    """One of the console's shipped files (script, style sheet, i18n table)."""
    return _file(_CONSOLE_FILES, name)


@router.get(DOCS_ASSET_PREFIX + "/{name}")
def docs_asset(name: str) -> FileResponse:
    """Swagger UI / Redoc files from the installed ``fastapi-offline`` package."""
    return _file(_DOCS_FILES, name)


#: pages of the docs may load images, fonts and data only from this server (Redoc's bundle links its logo
#: on a CDN; the browser refuses that instead of trying the network)
_DOCS_CSP = "default-src 'self' 'unsafe-inline' blob: data:; img-src 'self' data:; connect-src 'self'"


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = _DOCS_CSP
    return page


@router.get("/docs")
def swagger_ui() -> HTMLResponse:
    """Swagger UI over ``/openapi.json``, from local files."""
    return _local_only(get_swagger_ui_html(
        openapi_url=_OPENAPI_URL, title="Lifeline API — Swagger UI",
        swagger_js_url=f"{DOCS_ASSET_PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSET_PREFIX}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSET_PREFIX}/favicon.png", oauth2_redirect_url="/docs/oauth2-redirect",
    ))  # fmt: skip


@router.get("/docs/oauth2-redirect")
def swagger_ui_redirect() -> HTMLResponse:
    """Swagger UI's OAuth2 redirect helper page."""
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
def redoc() -> HTMLResponse:
    """Redoc over ``/openapi.json``, from local files and without web fonts."""
    return _local_only(get_redoc_html(
        openapi_url=_OPENAPI_URL, title="Lifeline API — Redoc",
        redoc_js_url=f"{DOCS_ASSET_PREFIX}/redoc.standalone.js",
        redoc_favicon_url=f"{DOCS_ASSET_PREFIX}/favicon.png", with_google_fonts=False,
    ))  # fmt: skip
