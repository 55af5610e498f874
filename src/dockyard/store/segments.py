"""Network segments and fixed addresses: the admin's IPAM configuration (held addresses: etcd).

Every change is checked against all segments in the same transaction: a segment overlapping
another is refused, a fixed address must lie in a segment serving its environment, and a
segment is deleted only when no fixed address points at it (the caller also checks etcd for
live addresses first). On any refusal nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address

from sqlalchemy import false, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Conflict, Invalid, NotFound
from dockyard.domain.principal import Principal
from dockyard.domain.segment import AddressRange, FixedAddress, Segment
from dockyard.store.models import (
    FixedAddressRow,
    SegmentRow,
    ServiceRow,
    TeamRow,
)
from dockyard.store.services import service_row


@dataclass(frozen=True)
class SegmentRecord:
    segment: Segment
    created_at: datetime


def _segment(row: SegmentRow) -> Segment:
    return Segment(
        name=row.name,
        cidr=Segment.parse(name=row.name, cidr=row.cidr, gateway=None, environments=["test"]).cidr,
        gateway=IPv4Address(row.gateway),
        environments=frozenset(Environment(env) for env in row.environments),
        reserved=tuple(AddressRange.parse(text) for text in row.reserved),
        vlan=row.vlan,
    )


def _segment_row(session: Session, name: str) -> SegmentRow:
    row = session.scalar(select(SegmentRow).where(SegmentRow.name == name))
    if row is None:
        raise NotFound(f"segment {name!r} not found; `dockyard segments list` lists them")
    return row


# Any number, the same in every server: PostgreSQL advisory locks are named by a bigint.
_SEGMENTS_LOCK = 0x6479_7365_676D  # "dysegm"


def lock_segments(session: Session) -> None:
    """Hold the segments' lock until this transaction ends, so a check over all segments and
    the write it allows are not interleaved with another transaction doing the same.

    Call it before reading the segments: two creates of overlapping CIDRs would otherwise both
    pass the overlap check, each reading before the other wrote. PostgreSQL: a
    transaction-scoped advisory lock. SQLite: the database's write lock, taken by a write that
    changes nothing (pysqlite begins a transaction only at the first write, so a read alone
    would lock nothing); a second writer waits for it (busy_timeout), then reads the first's
    row.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_SEGMENTS_LOCK)))
    else:
        session.execute(
            update(SegmentRow).where(false()).values(name=SegmentRow.name),
            execution_options={"synchronize_session": False},
        )


def create_segment(
    session: Session, who: Principal, *, segment: Segment, now: datetime
) -> SegmentRecord:
    """Add a segment. Conflict if its name is taken or its CIDR overlaps another segment's.

    Serialized with every other create (`lock_segments`), so of two overlapping segments
    created at once the second is refused with the overlap, never both written.
    """
    who.require_admin()
    lock_segments(session)
    for other in list_segments(session):
        if other.segment.name == segment.name:
            raise Conflict(f"segment {segment.name!r} already exists; choose another name")
        if other.segment.overlaps(segment):
            raise Conflict(
                f"{segment.cidr} overlaps segment {other.segment.name} ({other.segment.cidr}): "
                "segments must not share addresses; pick a CIDR outside it",
                field="cidr",
            )
    row = SegmentRow(
        name=segment.name,
        cidr=str(segment.cidr),
        gateway=str(segment.gateway),
        vlan=segment.vlan,
        environments=sorted(env.value for env in segment.environments),
        reserved=[str(span) for span in segment.reserved],
        created_at=now,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent create of the same name won
        raise Conflict(f"segment {segment.name!r} already exists; choose another name") from exc
    return SegmentRecord(segment, now)


def list_segments(session: Session) -> list[SegmentRecord]:
    rows = session.scalars(select(SegmentRow).order_by(SegmentRow.name))
    return [SegmentRecord(_segment(row), row.created_at) for row in rows]


def get_segment(session: Session, name: str) -> SegmentRecord:
    row = _segment_row(session, name)
    return SegmentRecord(_segment(row), row.created_at)


def delete_segment(session: Session, who: Principal, name: str) -> Segment:
    """Remove a segment no fixed address points at. The caller checks for live addresses."""
    who.require_admin()
    row = _segment_row(session, name)
    fixed = fixed_addresses(session, segment=name)
    if fixed:
        listed = ", ".join(f"{f.address} ({f.team}/{f.service} {f.env.value})" for f in fixed)
        raise Conflict(
            f"segment {name} still has fixed addresses: {listed}; remove them first with "
            "`dockyard ipam fixed remove`"
        )
    segment = _segment(row)
    session.delete(row)
    return segment


# -- fixed addresses ---------------------------------------------------------------------------


def fixed_addresses(
    session: Session,
    *,
    segment: str | None = None,
    team: str | None = None,
    service: str | None = None,
    env: Environment | None = None,
) -> list[FixedAddress]:
    """Fixed addresses matching every filter given, by address."""
    query = (
        select(FixedAddressRow, SegmentRow.name, ServiceRow.name, TeamRow.name)
        .join(SegmentRow, FixedAddressRow.segment_id == SegmentRow.id)
        .join(ServiceRow, FixedAddressRow.service_id == ServiceRow.id)
        .join(TeamRow, ServiceRow.team_id == TeamRow.id)
    )
    if segment is not None:
        query = query.where(SegmentRow.name == segment)
    if team is not None:
        query = query.where(TeamRow.name == team)
    if service is not None:
        query = query.where(ServiceRow.name == service)
    if env is not None:
        query = query.where(FixedAddressRow.env == env.value)
    found = [
        FixedAddress(
            team=team_name,
            service=service_name,
            env=Environment(row.env),
            address=IPv4Address(row.address),
            segment=segment_name,
        )
        for row, segment_name, service_name, team_name in session.execute(query)
    ]
    return sorted(found, key=lambda item: item.address)


def add_fixed(
    session: Session,
    who: Principal,
    *,
    team: str,
    service: str,
    env: Environment,
    address: IPv4Address,
    now: datetime,
) -> FixedAddress:
    """Fix `address` for a service in one environment (admin only: it is firewall policy).

    Invalid if no segment serving `env` may hand it out; Conflict if it is fixed already.
    """
    who.require_admin()
    owner = service_row(session, who, team, service)
    row = _serving_segment(session, env=env, address=address)
    if session.get(FixedAddressRow, str(address)) is not None:
        raise Conflict(f"{address} is already fixed; `dockyard ipam fixed list` shows for whom")
    session.add(
        FixedAddressRow(
            address=str(address),
            segment_id=row.id,
            service_id=owner.id,
            env=env.value,
            created_at=now,
        )
    )
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"{address} is already fixed") from exc
    return FixedAddress(team=team, service=service, env=env, address=address, segment=row.name)


def remove_fixed(session: Session, who: Principal, *, address: IPv4Address) -> FixedAddress:
    """Stop keeping `address` for its service; NotFound if it is not fixed."""
    who.require_admin()
    found = [item for item in fixed_addresses(session) if item.address == address]
    row = session.get(FixedAddressRow, str(address))
    if row is None or not found:
        raise NotFound(f"{address} is not a fixed address; `dockyard ipam fixed list` lists them")
    session.delete(row)
    return found[0]


def _serving_segment(session: Session, *, env: Environment, address: IPv4Address) -> SegmentRow:
    for row in session.scalars(select(SegmentRow).order_by(SegmentRow.name)):
        segment = _segment(row)
        if env in segment.environments and address in segment.cidr:
            if not segment.holds(address) or segment.is_reserved(address):
                raise Invalid(
                    f"{address} cannot be fixed in segment {segment.name}: it is its network, "
                    "broadcast or gateway address, or reserved",
                    field="address",
                )
            return row
    raise Invalid(
        f"{address} is outside every segment serving {env.value}: pick an address of one of "
        "them (`dockyard segments list`)",
        field="address",
    )
