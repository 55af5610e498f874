"""The built-in alarms' settings as read from the environment: on by default."""

from __future__ import annotations

import pytest

from dockyard.domain.errors import Invalid
from dockyard.settings import AlarmSettings, Settings


def _alarms(**environ: str) -> AlarmSettings:
    return Settings.from_env({"HOME": "/h", **environ}, uid=0).alarms


def test_builtin_alarms_are_on_with_a_thirty_second_grace_by_default() -> None:
    assert _alarms() == AlarmSettings(builtin=True, no_ready_grace_s=30.0)


def test_builtin_alarms_can_be_turned_off_and_the_grace_changed() -> None:
    alarms = _alarms(DOCKYARD_BUILTIN_ALARMS="false", DOCKYARD_NO_READY_GRACE_S="5")
    assert alarms == AlarmSettings(builtin=False, no_ready_grace_s=5.0)


@pytest.mark.parametrize(
    ("name", "raw"), [("DOCKYARD_BUILTIN_ALARMS", "sometimes"), ("DOCKYARD_NO_READY_GRACE_S", "-1")]
)
def test_bad_alarm_setting_is_refused_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(Invalid, match=name):
        _alarms(**{name: raw})
