"""GET /: the review page (paste or pick an article, see stances and evidence, correct them).

Plain HTML, one script and one stylesheet served from this package (``static/review``): no CDN,
no request leaves the service. The page talks to /v1/analyze, /v1/labels, /v1/models and
/v1/review/queue.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STATIC_PATH = "/static"
_PAGE = STATIC_DIR / "review" / "index.html"

# Only this server's own files; inline script and styles are refused (the script sets element
# styles through the DOM, which CSP allows).
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def review_page() -> FileResponse:
    """The review page."""
    return FileResponse(_PAGE, media_type="text/html; charset=utf-8", headers=_HEADERS)


def static_files() -> StaticFiles:
    """The page's script and stylesheet, mounted at ``STATIC_PATH``."""
    return StaticFiles(directory=STATIC_DIR)
