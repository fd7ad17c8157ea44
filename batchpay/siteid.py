"""One identity per Chargebee site, however the site is spelled.

``--site acme-test``, ``--site ACME-Test`` and ``base_url: https://acme-test.chargebee.com/api/v2/``
reach the same site, and so do ``http://127.0.0.1:8080`` and ``http://localhost:8080/api/v1``.
The identity is computed once, from the resolved base URL, and is the one namespace for the
idempotency keys, the journal and the execute lock; a second spelling must never look like a
second site, or a re-run posts every row again.

Rules: scheme and host lower-cased, a trailing dot dropped; every loopback name (``localhost``,
``127.0.0.0/8``, ``::1``) is ``localhost``; the scheme's default port dropped; the path's trailing
slash and ``/api/v1`` or ``/api/v2`` suffix dropped (both API versions of a site move the same
money); ``https`` is implied, any other scheme is kept. ``acme-test`` → ``acme-test.chargebee.com``,
``http://127.0.0.1:8080/api/v2`` → ``http://localhost:8080``. The built-in sandbox is a site per
state file: ``sandbox:/abs/path/sandbox.sqlite`` (``sandbox`` for one held in memory).
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from urllib.parse import urlsplit

CHARGEBEE_DOMAIN = "chargebee.com"
SANDBOX = "sandbox"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_VERSION_SUFFIX = re.compile(r"/api/v[12]$", re.IGNORECASE)
_SITE_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def site_identity(base_url: str) -> str:
    """The canonical identity of the site a (validated) base URL addresses."""
    parts = urlsplit(base_url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".").lower()
    if is_loopback(host):
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets next to a port
    port = parts.port
    if port == _DEFAULT_PORTS.get(scheme):
        port = None
    path = _VERSION_SUFFIX.sub("", parts.path.rstrip("/")).rstrip("/")
    text = host + (f":{port}" if port is not None else "") + path
    return text if scheme == "https" else f"{scheme}://{text}"


def sandbox_identity(state: str | Path | None) -> str:
    """The built-in sandbox's identity: one site per state file."""
    if state is None or str(state) == ":memory:":
        return SANDBOX
    return f"{SANDBOX}:{Path(state).expanduser().resolve()}"


def is_sandbox(identity: str) -> bool:
    return identity == SANDBOX or identity.startswith(f"{SANDBOX}:")


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def legacy_identity(site: str) -> str:
    """The identity of a site as journals written before the identity rule spelled it: the
    site name as typed (``ACME-test``), a base URL's host (``acme-test.chargebee.com``,
    ``127.0.0.1``: its port was not recorded) or ``sandbox``."""
    if site == SANDBOX or site.startswith(f"{SANDBOX}:"):
        return SANDBOX
    if "/" in site:  # already an identity
        return site
    host = site.rstrip(".").lower()
    if is_loopback(host):
        return "http://localhost"
    return f"{host}.{CHARGEBEE_DOMAIN}" if _SITE_NAME.match(host) else host


def same_site(recorded: str, identity: str) -> bool:
    """True when a journal's recorded site (new or legacy spelling) is ``identity``."""
    if recorded == identity:
        return True
    legacy = legacy_identity(recorded)
    if legacy == SANDBOX:
        return is_sandbox(identity)
    if legacy == "http://localhost":  # a loopback host recorded without its port
        return identity.startswith("http://localhost")
    return legacy == identity
