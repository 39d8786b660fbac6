"""The operators' dashboard: one static page of ES modules (no build step, no CDN, since
stores often run offline) that talks only to the gateway's public API: GraphQL queries
and mutations, graphql-transport-ws subscriptions, /ready, and the WebRTC live view.

Its one library, Apache ECharts, is pinned in `package.json` / `package-lock.json` next to
this file and installed by `make setup` (`make dashboard-assets`), which copies
`echarts.min.js` into `static/`. That file is git-ignored build output but, being a
`*.js` file of `static/`, it is package data (pyproject.toml): a wheel built after setup
carries it, and an installed gateway serves it from its own package like every other
file of the page. A tree without it (setup not run) fails at start with the fix, rather
than serving a page whose charts are blank.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
# Installed by `make setup` from the npm registry (see the module docs).
VENDORED = ("echarts.min.js",)


def mount_dashboard(app: FastAPI) -> None:
    """Serve the page at /dashboard/ (the token travels in the URL fragment, never to the
    server in a request line or log)."""
    if not (STATIC / "index.html").is_file():
        # An install without the package data (pyproject.toml) would serve 404s and 500s.
        raise RuntimeError(f"the dashboard's files are missing from {STATIC}")
    missing = [name for name in VENDORED if not (STATIC / name).is_file()]
    if missing:
        raise RuntimeError(
            f"the dashboard's libraries are missing from {STATIC} ({', '.join(missing)}): "
            "run `make dashboard-assets` (part of `make setup`; it needs npm)"
        )
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/dashboard/")

    @app.get("/dashboard/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})
