"""Static files: the portal's own CSS, and front-end libraries installed from npm.

The libraries are pinned in `package.json`/`package-lock.json` and installed into
`node_modules/` by the set-up command. Only the files named in `VENDOR` are served, so the rest
of `node_modules` (package metadata, source maps, other builds) is never exposed.
"""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse

PORTAL_DIR = Path(__file__).parent
STATIC_DIR = PORTAL_DIR / "static"
NODE_MODULES = PORTAL_DIR / "node_modules"
INSTALL_COMMAND = "npm ci --prefix src/dockyard/portal --no-audit --no-fund"

# URL name under /static/vendor/ -> file inside node_modules.
VENDOR: dict[str, str] = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "uPlot.iife.min.js": "uplot/dist/uPlot.iife.min.js",
    "uPlot.min.css": "uplot/dist/uPlot.min.css",
}


def vendor_path(name: str) -> Path | None:
    """The installed file served as `/static/vendor/<name>`, or None if unknown or missing."""
    relative = VENDOR.get(name)
    if relative is None:
        return None
    path = NODE_MODULES / relative
    return path if path.is_file() else None


def missing_vendor_files() -> list[str]:
    """Vendor files that are not installed; checked per page so installing needs no restart."""
    return [name for name in VENDOR if vendor_path(name) is None]


def serve_vendor(request: Request) -> FileResponse:
    name = request.path_params["name"]
    path = vendor_path(name)
    if path is None:
        raise HTTPException(
            404, f"front-end file {name!r} is not installed; run `{INSTALL_COMMAND}`"
        )
    return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})
