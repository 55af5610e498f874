"""The REST API (docs/api.md): HTTP <-> domain. It records desired state; it never drives runtimes.

`build_api(ApiDeps(...))` is the one entry point; everything else in this package is private to it.
"""

from dockyard.api.app import build_api
from dockyard.api.deps import ApiDeps

__all__ = ["ApiDeps", "build_api"]
