"""The TLS client context a drain's destination is reached with (syslog+tls://, https://)."""

from __future__ import annotations

import ssl

from dockyard.domain.drain import DrainSpec
from dockyard.domain.errors import Invalid


def client_context(spec: DrainSpec) -> ssl.SSLContext:
    """The system's trust store, or the drain's CA file; no checks at all if `verify` is off.

    Raises Invalid if the CA file cannot be read as one (the drain cannot work until fixed).
    """
    try:
        context = ssl.create_default_context(cafile=spec.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise Invalid(
            f"drain {spec.team}/{spec.name}: CA file {spec.ca_file} cannot be used ({exc}): "
            "give a PEM bundle readable on the drainer's host",
            field="ca_file",
        ) from exc
    if not spec.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
