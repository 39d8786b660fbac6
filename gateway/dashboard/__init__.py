"""The operators' dashboard: one static page (no build step, no external assets, since
stores often run offline) that talks only to the gateway's public API: GraphQL queries
and graphql-transport-ws subscriptions, /ready, and the WebRTC live view."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def mount_dashboard(app: FastAPI) -> None:
    """Serve the page at /dashboard/ (the token travels in the URL fragment, never to the
    server in a request line or log)."""
    if not (STATIC / "index.html").is_file():
        # An install without the package data (pyproject.toml) would serve 404s and 500s.
        raise RuntimeError(f"the dashboard's files are missing from {STATIC}")
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/dashboard/")

    @app.get("/dashboard/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})
