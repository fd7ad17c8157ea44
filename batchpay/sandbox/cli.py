"""``sandbox`` click group; thin over :mod:`batchpay.sandbox.server`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from batchpay.sandbox.app import DEFAULT_API_KEY
from batchpay.sandbox.faults import FaultConfig, FaultConfigError
from batchpay.sandbox.seed import SeedError
from batchpay.sandbox.server import DEFAULT_STATE, build_app, load_fault_file, run
from batchpay.siteid import is_loopback


@click.group(name="sandbox", context_settings={"help_option_names": ["-h", "--help"]})
def sandbox_cli() -> None:
    """A local fake of Chargebee's invoice API (v1 and v2), for trying batchpay with no account.

    \b
    Example:
      batchpay sandbox serve --port 8765 --seed samples/sandbox-seed.yaml
    """


@sandbox_cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option(
    "--state",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_STATE,
    show_default=True,
    help="SQLite file holding the sandbox's state.",
)
@click.option(
    "--seed",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML/JSON seed; ids already in the state are left alone.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML file of fault settings (the options below override it).",
)
@click.option("--api-key", "api_keys", multiple=True, help=f"Accepted key [{DEFAULT_API_KEY}].")
@click.option("--rate-per-minute", type=int, help="429 after N requests in 60 s.")
@click.option("--max-concurrent", type=int, help="429 above N requests in flight.")
@click.option("--latency-ms", type=int, help="Delay before each request is applied.")
@click.option("--latency-jitter-ms", type=int, help="Random extra delay, 0..N ms.")
@click.option(
    "--error-5xx-rate", type=float, help="Share of requests failing 500/503 before applying."
)
@click.option(
    "--drop-after-apply-rate",
    type=float,
    help="Share of writes applied, then answered by closing the connection.",
)
@click.option(
    "--lock-timeout/--no-lock-timeout",
    default=None,
    help="429 lock_timeout on a write to an invoice already being written.",
)
@click.option("--retry-after/--no-retry-after", default=None, help="Send Retry-After on 429.")
@click.option("--fault-seed", "seed_value", type=int, help="Seed for the fault dice.")
@click.option(
    "--allow-remote-control",
    is_flag=True,
    help="Serve /_sandbox/* (seed, clock, faults, ledger; no key needed) on a non-loopback "
    "--host too. Without it they answer 403 there.",
)
def serve(
    host: str,
    port: int,
    state: Path,
    seed: Path | None,
    config_file: Path | None,
    api_keys: tuple[str, ...],
    seed_value: int | None,
    allow_remote_control: bool,
    **options: Any,
) -> None:
    """Serve the sandbox on HOST:PORT until Ctrl-C.

    \b
    Examples:
      batchpay sandbox serve --port 8765 --seed samples/sandbox-seed.yaml
      batchpay sandbox serve --rate-per-minute 150 --latency-ms 150 \\
          --drop-after-apply-rate 0.02
      curl -u test_batchpay_sandbox: 127.0.0.1:8765/api/v2/invoices/INV-1001
    """
    settings: dict[str, Any] = {}
    try:
        if config_file is not None:
            settings.update(load_fault_file(config_file))
        settings.update({k: v for k, v in options.items() if v is not None})
        if seed_value is not None:
            settings["seed"] = seed_value
        faults = FaultConfig.from_dict(settings)
        control = allow_remote_control or is_loopback(host)
        app = build_app(state, seed, faults, set(api_keys) or {DEFAULT_API_KEY}, control)
    except (FaultConfigError, SeedError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    base = f"http://{host}:{port}"
    click.echo(f"Chargebee sandbox: {base}/api/v2 (and {base}/api/v1), state {state}")
    # The key is never printed (terminal logs and CI output keep it): say where it is instead.
    where = ("the one given with --api-key" if api_keys else
             "the sandbox's default key (DEFAULT_API_KEY in batchpay/sandbox/app.py)")
    click.echo(f"API key: {where}; HTTP Basic username, empty password")
    if control:
        click.echo(f"Inspect: {base}/_sandbox/ledger   Ctrl-C to stop")
    else:
        click.echo(f"{host} is not a loopback address: /_sandbox/* is off (needs no key); "
                   "--allow-remote-control turns it on. Ctrl-C to stop")
    run(app, host, port)
