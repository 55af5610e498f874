"""A service deleted and purged while its environments are reconciled: the pass that finds
its service gone forgets the key quietly (no foreign-key failure, no Conflict, nothing
written for a service that no longer exists)."""

from __future__ import annotations

import builtins

from sqlalchemy import delete, func, select

from dockyard.controller.config import ControllerSettings
from dockyard.controller.reconciler import Reconciler
from dockyard.domain.instance import Observed, Owner
from dockyard.domain.status import EnvKey
from dockyard.runtimes.fake import FakeRuntime
from dockyard.store import services, status
from dockyard.store.models import EnvStatusRow, EventRow, InstanceRow, ServiceRow

from .conftest import ADMIN, Harness


def purge(harness: Harness, key: EnvKey) -> None:
    """What another key's pass does once the deleted service has nothing left running."""
    with harness.db.session() as s:
        services.delete_service(s, ADMIN, team="pay", name="web", now=harness.clock())
    with harness.db.session() as s:
        s.execute(delete(InstanceRow).where(InstanceRow.service_id == key.service_id))
        assert status.purge_service(s, key.service_id)


def rows_of(harness: Harness, key: EnvKey) -> int:
    """Rows left of the service: itself, its status, events and instances."""
    with harness.db.session() as s:
        left = 0 if s.get(ServiceRow, key.service_id) is None else 1
        for table in (EnvStatusRow, EventRow, InstanceRow):
            where = table.service_id == key.service_id
            left += s.scalar(select(func.count()).select_from(table).where(where)) or 0
        return left


class PurgedMidPass(FakeRuntime):
    """Lists the instances, then the service is purged before the pass writes its status."""

    harness: Harness | None = None
    key: EnvKey | None = None

    async def list(self, owner: Owner) -> builtins.list[Observed]:
        found = await super().list(owner)
        if self.harness is not None and self.key is not None:
            purge(self.harness, self.key)
            self.harness = None
        return found


async def test_a_pass_over_a_purged_service_forgets_the_key_quietly(harness: Harness) -> None:
    harness.deploy(replicas=1)
    await harness.settle()
    key = harness.key
    purge(harness, key)
    assert await harness.reconciler.reconcile(key) is None
    assert rows_of(harness, key) == 0


async def test_a_service_purged_while_its_environment_is_reconciled_is_not_written(
    harness: Harness,
) -> None:
    runtime = PurgedMidPass(clock=harness.clock)
    harness.runtime = runtime
    settings = ControllerSettings(progress_deadline_s=60, first_ready_window_s=0)
    harness.reconciler = Reconciler(harness.db, runtime, clock=harness.clock, settings=settings)
    harness.deploy(replicas=2)
    key = harness.key
    runtime.harness, runtime.key = harness, key
    assert await harness.reconciler.reconcile(key) is not None  # acted: look again soon
    assert rows_of(harness, key) == 0
    assert await harness.reconciler.reconcile(key) is None  # and the key is forgotten
