"""``batchpay web`` (serve the application) and ``batchpay users`` (manage who may sign in)."""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
from pathlib import Path

import click

from batchpay.siteid import is_loopback
from batchpay.target import DEFAULT_SANDBOX_STATE

DEFAULT_DATA = Path(".batchpay") / "web"
# package data (in the repository a link to samples/): found by a plain install too
DEMO_JOBS = Path(__file__).resolve().parent / "demo-jobs"
DEMO_FILES = (".yaml", ".csv", ".xlsx")  # the jobs and their inputs (as pyproject ships them)
DEMO_RECORD = "demo-jobs-copied.json"  # beside the copies: what each file was when copied
DEMO_USERS = (("preparer", "preparer"), ("approver", "approver"), ("admin", "admin"))
DATA_OPTION = click.option(
    "--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_DATA,
    show_default=True, help="Folder for the web database, uploads and reports.",
)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback only unless you say otherwise).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@DATA_OPTION
@click.option("--jobs", "jobs_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of job specs (default: jobs/; with --demo the samples).")
@click.option("--sandbox-state", type=click.Path(dir_okay=False, path_type=Path),
              default=DEFAULT_SANDBOX_STATE, show_default=True,
              help="State file of the built-in sandbox (shared with batchpay run).")
@click.option("--cert", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TLS certificate (PEM): serve HTTPS, cookies marked Secure.")
@click.option("--key", "key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TLS private key (PEM) for --cert.")
@click.option("--demo", is_flag=True,
              help="Create demo users with one-time passwords (printed) and serve the samples.")
def web(host: str, port: int, data_dir: Path, jobs_dir: Path | None, sandbox_state: Path,
        cert: Path | None, key_file: Path | None, demo: bool) -> None:
    """Serve the batchpay web application: upload, review, approve, execute, report.

    Binds to 127.0.0.1 unless --host says otherwise (then warns without HTTPS).

    \b
    Examples:
      batchpay web --demo                       # try it: http://127.0.0.1:8000
      batchpay users add alice --role preparer  # then: batchpay web --jobs jobs/
    """
    import uvicorn

    from .app import create_app
    from .runs import Settings

    if (cert is None) != (key_file is None):
        raise click.UsageError("--cert and --key go together")
    if jobs_dir is None:
        jobs_dir = _demo_jobs(data_dir) if demo else Path("jobs")
    if not jobs_dir.is_dir():
        raise click.UsageError(f"no job specs folder {jobs_dir} (pass --jobs DIR)")
    if not is_loopback(host) and cert is None:
        click.echo(f"Warning: serving plain HTTP on {host}: passwords and payment data cross the "
                   "network unencrypted. Use --cert/--key or a TLS proxy.", err=True)
    settings = Settings(data_dir=data_dir, jobs_dir=jobs_dir, sandbox_state=sandbox_state)
    app = create_app(settings, secure_cookies=cert is not None)
    if demo:
        _demo_users(app.state.web.store)
    scheme = "https" if cert else "http"
    click.echo(f"batchpay web on {scheme}://{host}:{port} (data in {data_dir}, jobs in "
               f"{jobs_dir}); Ctrl-C to stop")
    uvicorn.run(app, host=host, port=port, log_level="warning",
                ssl_certfile=str(cert) if cert else None,
                ssl_keyfile=str(key_file) if key_file else None)


def _demo_jobs(data_dir: Path) -> Path:
    """The sample jobs and their inputs, copied from the package into the data folder (so an
    admin's uploaded job lands there, not in the installed package). A file is copied when it
    is not there yet, or still as an earlier start copied it (a newer sample replaces it); one
    changed since (an admin's edit) is kept."""
    target = data_dir / "demo-jobs"
    record = data_dir / DEMO_RECORD  # not among the copies: that folder holds jobs only
    copied = _copied_before(record)
    for source in _demo_files():
        name = source.relative_to(DEMO_JOBS).as_posix()
        copy, sha = target / name, _sha256(source)
        now = _sha256(copy) if copy.exists() else None
        if now is not None and now not in (sha, copied.get(name)):
            continue  # changed since it was copied: an admin's edit
        if now != sha:
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)
        copied[name] = sha
    target.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(copied, indent=1, sort_keys=True), encoding="utf-8")
    return target


def _demo_files() -> list[Path]:
    jobs = sorted(p for p in DEMO_JOBS.iterdir()
                  if p.is_dir() and not p.name.startswith((".", "_")))
    return [f for job in jobs for f in sorted(job.iterdir())
            if f.name.endswith(DEMO_FILES) and not f.is_dir()]


def _copied_before(record: Path) -> dict[str, str]:
    """What earlier starts copied (file -> SHA-256); nothing known when the record is unreadable
    (then a copy that differs from its sample counts as edited and is kept)."""
    try:
        copied = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in copied.items() if isinstance(v, str)} \
        if isinstance(copied, dict) else {}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _demo_users(store: object) -> None:
    from .security import hash_password
    from .store import Store

    assert isinstance(store, Store)
    click.echo("Demo users (one-time passwords, new at every --demo start):")
    for name, role in DEMO_USERS:
        password = secrets.token_urlsafe(12)
        store.add_user(name, role, hash_password(password))
        click.echo(f"  {name:<9} {role:<9} {password}")


@click.group()
def users() -> None:
    """Manage the web application's users (roles: preparer, approver, admin).

    \b
    Example:
      batchpay users add alice --role preparer   # asks for the password twice
    """


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["preparer", "approver", "admin"]), required=True)
@DATA_OPTION
def add_user(name: str, role: str, data_dir: Path) -> None:
    """Add NAME with ROLE, or reset their role and password.

    The password is prompted twice (never an option: it would show in the process list and
    the shell's history); without a terminal it is read from standard input.

    \b
    Example:
      batchpay users add bob --role approver --data .batchpay/web
    """
    from .app import user_problem
    from .security import hash_password
    from .store import Store

    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = user_problem(name, role, password)
    if problem:
        raise click.UsageError(problem)
    store = Store(data_dir / "web.sqlite")
    try:
        store.add_user(name, role, hash_password(password))
        store.audit("(command line)", "add user", detail=f"{name} as {role}")
    finally:
        store.close()
    click.echo(f"User {name} saved with role {role}.")


@users.command("list")
@DATA_OPTION
def list_users(data_dir: Path) -> None:
    """List the users and their roles.

    \b
    Example:
      batchpay users list --data .batchpay/web
    """
    from .store import Store

    store = Store(data_dir / "web.sqlite")
    try:
        for user in store.users():
            click.echo(f"{user.name}\t{user.role}")
    finally:
        store.close()
