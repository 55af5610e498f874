"""The web portal: server-rendered pages over the store, mounted by the server at `/ui`."""

from dockyard.portal.app import build_portal
from dockyard.portal.deps import PortalDeps

__all__ = ["PortalDeps", "build_portal"]
