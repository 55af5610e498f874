"""CLI commands, one module per noun; each module's `register(app)` adds its commands."""
