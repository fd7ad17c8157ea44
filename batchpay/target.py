"""Where a run's calls go: a Chargebee site, an explicit base URL, or the built-in sandbox.

With no site configured, runs target the built-in sandbox in-process, its state in a local
SQLite file (seeded the first time with the demo seed, samples/sandbox-seed.yaml, shipped in the
package), so the whole workflow can be tried with no account. The API key comes from
CHARGEBEE_API_KEY or a file named by CHARGEBEE_API_KEY_FILE, never from the command line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from batchpay.chargebee.client import base_url_for, is_test_site
from batchpay.chargebee.errors import ConfigError
from batchpay.siteid import sandbox_identity, site_identity
from batchpay.sitestate import SiteRegister
from batchpay.spec import JobSpec

if TYPE_CHECKING:  # the sandbox is imported only when a run uses it
    from batchpay.sandbox import FaultConfig, SandboxStore

REPO_ROOT = Path(__file__).resolve().parents[1]  # a checkout's root (the web demo's samples/)
DEFAULT_SANDBOX_STATE = Path(".batchpay") / "sandbox.sqlite"
# package data (in the repository a link to samples/sandbox-seed.yaml): found when installed too
DEFAULT_SANDBOX_SEED = Path(__file__).resolve().parent / "sandbox" / "demo-seed.yaml"
SANDBOX_HOST = "127.0.0.1"  # loopback name; requests never leave the process


@dataclass
class Target:
    """A resolved destination. ``api_key`` is excluded from repr so it cannot reach a log."""

    label: str  # for people and reports: "built-in sandbox (.batchpay/sandbox.sqlite)"
    site: str  # canonical identity (batchpay.siteid): idempotency keys, journal, execute lock
    base_url: str
    api_key: str = field(repr=False)
    transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False)
    is_live: bool = False
    embedded: bool = False


def resolve_target(
    spec: JobSpec,
    *,
    site: str | None = None,
    base_url: str | None = None,
    sandbox_state: Path = DEFAULT_SANDBOX_STATE,
    env: Mapping[str, str] = os.environ,
    state_dir: Path | None = None,
) -> Target:
    """Pick the target: command-line site/URL, else the job's, else the built-in sandbox."""
    version = spec.api_version
    site = site or spec.site.name
    base_url = base_url or spec.site.base_url
    if site is None and base_url is None:
        return embedded_sandbox(sandbox_state, version, state_dir)
    url = base_url_for(site=None if base_url else site, base_url=base_url, version=version)
    host = urlsplit(url).hostname or url
    return Target(
        label=host,
        site=site_identity(url),
        base_url=url,
        api_key=api_key_from(env),
        is_live=not is_test_site(url),
    )


def planned_site(
    spec: JobSpec,
    *,
    site: str | None = None,
    base_url: str | None = None,
    sandbox_state: Path = DEFAULT_SANDBOX_STATE,
) -> str:
    """The identity a run would target, without an API key (validate and offline dry runs)."""
    site = site or spec.site.name
    base_url = base_url or spec.site.base_url
    if site is None and base_url is None:
        return sandbox_identity(sandbox_state)
    try:
        url = base_url_for(site=None if base_url else site, base_url=base_url,
                           version=spec.api_version)
    except ConfigError:
        return (base_url or site or "").lower()  # reported as an error when the site is used
    return site_identity(url)


def api_key_from(env: Mapping[str, str]) -> str:
    key = env.get("CHARGEBEE_API_KEY", "").strip()
    key_file = env.get("CHARGEBEE_API_KEY_FILE", "").strip()
    if not key and key_file:
        try:
            key = Path(key_file).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read CHARGEBEE_API_KEY_FILE ({key_file}): "
                              f"{exc.strerror}") from None
    if not key:
        raise ConfigError(
            "no API key: set CHARGEBEE_API_KEY, or CHARGEBEE_API_KEY_FILE to a file holding it"
        )
    return key


def embedded_sandbox(state: Path, version: str, state_dir: Path | None = None) -> Target:
    """The built-in sandbox, in-process, its state persisted in ``state``. A state created
    afresh is a new site: no journal has posted to it (``state_dir``'s register is cleared)."""
    from batchpay.sandbox import SandboxStateError, SandboxStore, load_seed_file

    fresh = not os.path.lexists(state)
    store = None
    try:
        store = SandboxStore(state)
        if fresh and DEFAULT_SANDBOX_SEED.exists():
            store.load_seed(load_seed_file(DEFAULT_SANDBOX_SEED))
    except SandboxStateError:
        if store is not None:
            store.close()
        if fresh:  # half made (e.g. the disk filled up): the next run creates and seeds it anew
            for part in ("", "-wal", "-shm", "-journal"):
                with suppress(OSError):
                    Path(f"{state}{part}").unlink()
        raise
    if fresh and state_dir is not None:
        SiteRegister(state_dir, sandbox_identity(state)).forget_all()
    return sandbox_target(store, version=version, label=f"built-in sandbox ({state})")


def sandbox_target(
    store: SandboxStore,
    *,
    version: str = "v2",
    faults: FaultConfig | None = None,
    clock: Callable[[], float] | None = None,
    label: str = "built-in sandbox",
) -> Target:
    """An in-process sandbox target over ``store`` (tests and benchmarks set faults/clock)."""
    from batchpay.sandbox import DEFAULT_API_KEY, create_app, sandbox_transport

    app = create_app(store, faults=faults, clock=clock)
    return Target(
        label=label,
        site=sandbox_identity(store.path),
        base_url=f"http://{SANDBOX_HOST}/api/{version}",
        api_key=DEFAULT_API_KEY,
        transport=sandbox_transport(app),
        embedded=True,
    )
