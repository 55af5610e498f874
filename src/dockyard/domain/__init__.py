"""Pure vocabulary of the platform: ids, specs, status and errors. No I/O lives here."""
