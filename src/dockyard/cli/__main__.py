"""`python -m dockyard.cli`: how `dockyard up` starts the server with this same interpreter."""

from dockyard.cli import main

main()
