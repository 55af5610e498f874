"""A client of the registry's distribution v2 HTTP API: digests, manifests, tags, deletes.

Every manifest request sends the v2 / OCI manifest media types in Accept: without them
distribution 2.8 converts a v2 manifest to schema 1 on the fly, and the digest it answers with
is that of the conversion, which no engine ever pulls. Transport errors and unexpected answers
become the domain's `Unavailable` / `RuntimeFailure` here, once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from dockyard.domain.errors import Conflict, Invalid, RuntimeFailure, Unavailable

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
ACCEPT = ", ".join(MANIFEST_TYPES)
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_NEXT_LINK = re.compile(r"<([^>]+)>;\s*rel=\"?next\"?")
CATALOG_PAGE = 500


@dataclass(frozen=True)
class Manifest:
    """One image manifest as the registry stores it."""

    digest: str
    media_type: str
    config_digest: str | None
    layers: tuple[tuple[str, int], ...]  # (digest, compressed size)
    size: int  # the manifest's own bytes + config + layers: what it costs the registry

    @classmethod
    def parse(cls, digest: str, body: bytes, media_type: str) -> Manifest:
        data: dict[str, Any] = json.loads(body)
        config = data.get("config") or {}
        layers = tuple(
            (str(layer.get("digest")), int(layer.get("size") or 0))
            for layer in data.get("layers") or ()
        )
        size = len(body) + int(config.get("size") or 0) + sum(size for _, size in layers)
        return cls(
            digest=digest,
            media_type=media_type or str(data.get("mediaType") or ""),
            config_digest=config.get("digest"),
            layers=layers,
            size=size,
        )


class RegistryClient:
    """Talks to one registry at `url` (http://host:port). Thread-safe; close() when done."""

    def __init__(
        self, url: str, *, timeout_s: float = 10.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.url = url.rstrip("/")
        # Blobs of remote storage (S3, Swift) are answered with a redirect to the store.
        self._http = httpx.Client(
            base_url=self.url, timeout=timeout_s, transport=transport, follow_redirects=True
        )

    def close(self) -> None:
        self._http.close()

    def ping(self) -> None:
        """Return if the registry answers its API root; Unavailable if it does not."""
        self._send("GET", "/v2/", ok=(200,))

    def digest(self, repository: str, reference: str) -> str | None:
        """The digest of `repository:reference` (a tag or a digest), or None if there is none."""
        response = self._send(
            "HEAD", _manifest_path(repository, reference), ok=(200, 404), accept=True
        )
        if response.status_code == 404:
            return None
        return _content_digest(response, f"{repository}:{reference}")

    def manifest(self, repository: str, reference: str) -> Manifest | None:
        """The manifest of `repository:reference`, or None if there is none."""
        response = self._send(
            "GET", _manifest_path(repository, reference), ok=(200, 404), accept=True
        )
        if response.status_code == 404:
            return None
        digest = _content_digest(response, f"{repository}:{reference}")
        return Manifest.parse(digest, response.content, response.headers.get("content-type", ""))

    def labels(self, repository: str, reference: str) -> dict[str, str] | None:
        """The labels in the image config of `repository:reference`; None if there is none."""
        manifest = self.manifest(repository, reference)
        if manifest is None or manifest.config_digest is None:
            return None
        path = f"/v2/{_repo(repository)}/blobs/{manifest.config_digest}"
        response = self._send("GET", path, ok=(200, 404))
        if response.status_code == 404:
            return None
        config = response.json().get("config") or {}
        return {str(k): str(v) for k, v in (config.get("Labels") or {}).items()}

    def tags(self, repository: str) -> list[str]:
        """The tags of `repository`, sorted; empty if the repository does not exist."""
        response = self._send("GET", f"/v2/{_repo(repository)}/tags/list", ok=(200, 404))
        if response.status_code == 404:
            return []
        return sorted(response.json().get("tags") or [])

    def repositories(self) -> list[str]:
        """Every repository in the registry (the catalog, all pages)."""
        found: list[str] = []
        path: str | None = f"/v2/_catalog?n={CATALOG_PAGE}"
        while path:
            response = self._send("GET", path, ok=(200,))
            found.extend(response.json().get("repositories") or [])
            link = _NEXT_LINK.search(response.headers.get("link", ""))
            path = link.group(1) if link else None
        return found

    def delete(self, repository: str, digest: str) -> bool:
        """Delete the manifest `digest` (and every tag pointing at it). False if it was gone.

        Blobs stay until the registry's garbage collection runs.
        """
        if not DIGEST.match(digest):
            raise Invalid(f"{digest!r} is not a sha256 digest", field="digest")
        response = self._send("DELETE", _manifest_path(repository, digest), ok=(202, 404, 405))
        if response.status_code == 405:
            raise Conflict(
                f"the registry at {self.url} refuses deletes: it is in read-only mode (garbage "
                "collection is running) or deletes are disabled in its configuration; retry later"
            )
        return response.status_code == 202

    def _send(
        self, method: str, path: str, *, ok: tuple[int, ...], accept: bool = False
    ) -> httpx.Response:
        headers = {"Accept": ACCEPT} if accept else {}
        try:
            response = self._http.request(method, path, headers=headers)
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"the image registry at {self.url} does not answer ({exc.__class__.__name__}: "
                f"{exc}); is it running? `dockyard up` starts it"
            ) from exc
        if response.status_code in ok:
            return response
        if response.status_code >= 500:
            raise Unavailable(
                f"the image registry at {self.url} failed {method} {path}: "
                f"HTTP {response.status_code} {_errors(response)}"
            )
        raise RuntimeFailure(
            f"the image registry at {self.url} refused {method} {path}: "
            f"HTTP {response.status_code} {_errors(response)}"
        )


def _repo(repository: str) -> str:
    return quote(repository, safe="/")


def _manifest_path(repository: str, reference: str) -> str:
    return f"/v2/{_repo(repository)}/manifests/{quote(reference, safe=':')}"


def _content_digest(response: httpx.Response, what: str) -> str:
    digest = str(response.headers.get("docker-content-digest", ""))
    if not DIGEST.match(digest):
        raise RuntimeFailure(f"the registry answered {what} without a sha256 digest: {digest!r}")
    return digest


def _errors(response: httpx.Response) -> str:
    """The registry's own error codes and messages, if it sent any."""
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return response.text[:200]
    return "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
