"""Releasing an image into an environment with that environment's own config.

Used by every release the image center makes: a build's deploy to `test`, a promotion, and
`stable` following its source. The revision runs the service's current template with the image
pinned by digest, the environment's extra variables on top of the template's, and the
environment's replica count: its override if set, else what runs there now, else one.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Invalid
from dockyard.domain.principal import Principal
from dockyard.images.naming import digest_of
from dockyard.store import promotions, releases
from dockyard.store.releases import Change
from dockyard.store.services import service_row
from dockyard.store.views import ReleaseView


def release_image(
    session: Session,
    change: Change,
    *,
    team: str,
    service: str,
    env: Environment,
    image: str,
    cause: str,
) -> ReleaseView:
    """A new revision of `env` running `image` (which must pin a digest)."""
    if digest_of(image) is None:
        raise Invalid(f"image {image} is not pinned by digest", field="image")
    svc = service_row(session, change.who, team, service)
    override = promotions.overrides(session, svc.id).get(env, promotions.Override())
    return releases.deploy(
        session,
        change,
        team=team,
        service=service,
        env=env,
        image=image,
        replicas=override.replicas,  # None: what runs there now, or one for a first release
        env_vars=dict(override.env),
        cause=cause,
    )


ON_BEHALF = "-"
"""The token id of a principal acting on someone's behalf: no token was presented."""


def principal_of(actor: str) -> Principal:
    """The principal an actor string (`admin` or `team/token-name`) stands for, so releases
    made later on someone's behalf (a build's deploy) name them."""
    if actor == "admin":
        return Principal(token_id=ON_BEHALF, name="admin", team=None)
    team, _, name = actor.partition("/")
    return Principal(token_id=ON_BEHALF, name=name or team, team=team if name else None)
