"""``batchpay web`` (serve the application) and ``batchpay users`` (manage who may sign in)."""

from __future__ import annotations

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
    admin's uploaded job lands there, not in the installed package)."""
    target = data_dir / "demo-jobs"
    for job in sorted(p for p in DEMO_JOBS.iterdir()
                      if p.is_dir() and not p.name.startswith((".", "_"))):
        shutil.copytree(job, target / job.name, dirs_exist_ok=True, ignore=_not_demo_files)
    return target


def _not_demo_files(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if not n.endswith(DEMO_FILES) or (Path(folder) / n).is_dir()]


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
