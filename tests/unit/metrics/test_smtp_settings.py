"""The SMTP server for e-mail receivers, as read from the environment (DOCKYARD_SMTP_*)."""

from __future__ import annotations

import pytest

from dockyard.domain.errors import Invalid
from dockyard.metrics.receivers import SmtpSettings
from dockyard.settings import Settings


def _smtp(**environ: str) -> SmtpSettings | None:
    return Settings.from_env({"HOME": "/h", **environ}, uid=0).smtp


def test_no_host_means_no_smtp_server() -> None:
    assert _smtp(DOCKYARD_SMTP_PORT="2525") is None


def test_host_alone_takes_port_25_without_login() -> None:
    assert _smtp(DOCKYARD_SMTP_HOST="mail.example.com") == SmtpSettings(host="mail.example.com")


def test_every_smtp_variable_is_read() -> None:
    smtp = _smtp(
        DOCKYARD_SMTP_HOST="mail.example.com",
        DOCKYARD_SMTP_PORT="587",
        DOCKYARD_SMTP_FROM="alarms@example.com",
        DOCKYARD_SMTP_USER="dockyard",
        DOCKYARD_SMTP_PASSWORD="secret",
        DOCKYARD_SMTP_STARTTLS="yes",
    )
    assert smtp == SmtpSettings(
        host="mail.example.com",
        port=587,
        sender="alarms@example.com",
        username="dockyard",
        password="secret",
        starttls=True,
    )


@pytest.mark.parametrize(
    ("name", "raw"), [("DOCKYARD_SMTP_PORT", "0"), ("DOCKYARD_SMTP_STARTTLS", "maybe")]
)
def test_bad_smtp_value_is_refused_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(Invalid, match=name):
        _smtp(DOCKYARD_SMTP_HOST="mail.example.com", **{name: raw})
