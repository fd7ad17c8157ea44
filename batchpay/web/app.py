"""The Starlette application: server-rendered pages over ``Runs`` (no engine logic here).

Every page needs a signed-in user (else a redirect to /signin); every POST carries the session's
CSRF token (else 403); roles gate what each user may do (else 403).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batchpay.money import UnknownCurrency, format_amount

from .runs import Runs, Settings, WebError
from .security import (
    SESSION_COOKIE,
    SessionSigner,
    SignInLimiter,
    csrf_ok,
    hash_password,
    new_csrf_token,
    secret_key,
    verify_password,
)
from .store import ROLES, Store, User

HERE = Path(__file__).parent
PAGE_SIZE = 50
MAX_ID = 2**53  # ids and page numbers from URLs (offsets stay inside SQLite's 64 bits)
CATEGORY_LABELS = {"posted": "would post", "skipped": "skipped", "failed": "would fail",
                   "invalid": "invalid", "needs_review": "needs review"}
RESULT_LABELS = {**CATEGORY_LABELS, "posted": "posted", "failed": "failed"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
# A dry run's (or execute's re-check's) view when its thread is not (or no longer) known: the
# page still follows it.
STARTING = {"step": "Starting", "detail": "", "seconds": 0, "steps": []}
Handler = Callable[[Request], Awaitable[Response]]


class SecurityHeaders:
    """Adds the CSP and friends to every response, pages, downloads and errors alike."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


class Web:
    def __init__(self, settings: Settings, *, secure_cookies: bool = False,
                 limiter: SignInLimiter | None = None) -> None:
        self.settings = settings
        self.store = Store(settings.data_dir / "web.sqlite")
        self.runs = Runs(settings, self.store)
        self.signer = SessionSigner(secret_key(settings.data_dir))
        self.limiter = limiter or SignInLimiter()
        self.secure_cookies = secure_cookies
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.templates.filters["when"] = _when
        self.templates.filters["short"] = lambda sha: sha[:12]
        self.templates.filters["money"] = _money

    # sessions, users, pages
    def session(self, request: Request) -> dict[str, Any]:
        return self.signer.load(request.cookies.get(SESSION_COOKIE)) or {}

    def user(self, request: Request) -> User | None:
        sid = self.session(request).get("sid")
        name = self.store.session_user(sid) if isinstance(sid, str) else None
        return self.store.user(name) if name else None

    def page(self, request: Request, template: str, status: int = 200,
             **context: Any) -> HTMLResponse:
        session = self.session(request)
        if not session.get("csrf"):
            session = {"csrf": new_csrf_token()}
        html = self.templates.get_template(template).render(
            user=self.user(request), csrf=session["csrf"], path=request.url.path, **context)
        response = HTMLResponse(html, status_code=status)
        self.set_session(response, session, request.url.scheme == "https")
        return response

    def set_session(self, response: Response, session: dict[str, Any], https: bool) -> None:
        response.set_cookie(SESSION_COOKIE, self.signer.dump(session), httponly=True,
                            samesite="strict", secure=self.secure_cookies or https, path="/")

    def refuse(self, request: Request, message: str, status: int) -> HTMLResponse:
        return self.page(request, "error.html", status=status, message=message)

    async def form(self, request: Request) -> FormData:
        """The POSTed form, after its CSRF token was checked (WebError 403 otherwise)."""
        limit = self.settings.max_upload_bytes
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit + 64 * 1024:
            raise WebError(f"the upload is over the limit of {limit:,} bytes", 413)
        form = await request.form(max_files=2, max_fields=50)
        token = form.get("csrf")
        if not csrf_ok(self.session(request), token if isinstance(token, str) else None):
            raise WebError("the form's security token is missing or out of date: reload the "
                           "page and try again", 403)
        return form


PageHandler = Callable[[Web, Request, User, FormData | None], Awaitable[Response]]


def guarded(*roles: str, post: bool = False) -> Callable[[PageHandler], Callable[[Web], Handler]]:
    """Sign-in required; ``roles`` (if any) allowed; ``post``: the CSRF token checked first."""

    def wrap(handler: PageHandler) -> Callable[[Web], Handler]:
        def bind(web: Web) -> Handler:
            async def endpoint(request: Request) -> Response:
                user = web.user(request)
                if user is None:
                    if post:
                        return web.refuse(request, "sign in first", 403)
                    target = quote(request.url.path + (f"?{request.url.query}"
                                                       if request.url.query else ""))
                    return RedirectResponse(f"/signin?next={target}", 303)
                try:
                    form = await web.form(request) if post else None
                    if roles and user.role not in roles and user.role != "admin":
                        raise WebError(f"your role ({user.role}) cannot do this; it needs "
                                       f"{' or '.join(roles)}", 403)
                    return await handler(web, request, user, form)
                except WebError as exc:
                    return web.refuse(request, str(exc), exc.status)
            return endpoint
        return bind
    return wrap


def _text(form: FormData | None, name: str) -> str:
    value = form.get(name) if form is not None else None
    return value.strip() if isinstance(value, str) else ""


def _int(value: str | int | None, default: int = 0) -> int:
    """A number from a URL; ``default`` when it is none, or too big for a database id (SQLite
    integers are 64-bit: a bigger one would be an internal error, not a page)."""
    if isinstance(value, str):
        value = int(value) if value.isascii() and value.isdigit() else None
    return value if value is not None and 0 <= value <= MAX_ID else default


# sign in / out

async def signin_page(web: Web, request: Request) -> Response:
    if request.method == "GET":
        return web.page(request, "signin.html", next=_safe_next(request.query_params.get("next")),
                        error="")
    try:
        form = await web.form(request)
    except WebError as exc:
        return web.refuse(request, str(exc), exc.status)
    name, password = _text(form, "name"), form.get("password")
    password = password if isinstance(password, str) else ""
    keys = (f"user:{name.lower()}", f"ip:{request.client.host if request.client else '?'}")
    next_page = _safe_next(_text(form, "next"))
    if web.limiter.blocked(*keys):
        web.store.audit(name or "?", "sign in refused", detail="too many failed attempts")
        return web.page(request, "signin.html", status=429, next=next_page,
                        error="Too many failed sign-ins. Wait 15 minutes and try again.")
    found = web.store.password_hash(name)
    if not verify_password(found[1] if found else None, password) or found is None:
        web.limiter.failed(*keys)
        web.store.audit(name or "?", "sign in failed")
        return web.page(request, "signin.html", status=401, next=next_page,
                        error="Wrong name or password.")
    web.limiter.succeeded(keys[0])
    web.store.audit(found[0].name, "sign in")
    response = RedirectResponse(next_page, 303)
    session_id = secrets.token_urlsafe(24)
    web.store.add_session(session_id, found[0].name)
    web.set_session(response, {"sid": session_id, "csrf": new_csrf_token()},
                    request.url.scheme == "https")
    return response


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@guarded(post=True)
async def signout(web: Web, request: Request, user: User, form: FormData | None) -> Response:
    web.store.audit(user.name, "sign out")
    web.store.end_sessions(session_id=str(web.session(request).get("sid")))
    response = RedirectResponse("/signin", 303)
    web.set_session(response, {"csrf": new_csrf_token()}, request.url.scheme == "https")
    return response


# home, jobs

@guarded()
async def home(web: Web, request: Request, user: User, form: FormData | None) -> Response:
    pending = [r for r in web.store.runs(state="pending")]
    return web.page(request, "home.html", pending=pending, recent=web.store.runs(limit=10))


@guarded()
async def jobs_page(web: Web, request: Request, user: User, form: FormData | None) -> Response:
    return web.page(request, "jobs.html", jobs=web.runs.jobs(), error="")


@guarded()
async def job_page(web: Web, request: Request, user: User, form: FormData | None) -> Response:
    job = web.runs.job(request.path_params["name"])
    return web.page(request, "job.html", job=job)


@guarded("admin", post=True)
async def job_upload(web: Web, request: Request, user: User, form: FormData | None) -> Response:
    upload = form.get("spec") if form is not None else None
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise WebError("choose a job spec file (.yaml) to upload")
    try:
        job = web.runs.add_job(upload.filename, await upload.read())
    except WebError as exc:
        web.store.audit(user.name, "job upload refused", detail=str(exc)[:500])
        return web.page(request, "jobs.html", status=exc.status, jobs=web.runs.jobs(),
                        error=str(exc))
    web.store.audit(user.name, "job upload", detail=job.path)
    return RedirectResponse(f"/jobs/{job.path}", 303)


# runs

@guarded("preparer")
async def new_run(web: Web, request: Request, user: User, form: FormData | None) -> Response:
    jobs = [j for j in web.runs.jobs() if j.spec is not None]
    return web.page(request, "new_run.html", jobs=jobs, selected=request.query_params.get("job"),
                    limit=web.settings.max_upload_bytes, error="")


@guarded("preparer", post=True)
async def create_run(web: Web, request: Request, user: User, form: FormData | None) -> Response:
    upload = form.get("file") if form is not None else None
    job = _text(form, "job")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise WebError("choose the file to upload")
    content = await upload.read(web.settings.max_upload_bytes + 1)
    try:
        run_id, earlier = await run_in_threadpool(
            web.runs.upload, job, upload.filename, content, user.name)
    except WebError as exc:
        web.store.audit(user.name, "upload refused", detail=str(exc)[:500])
        jobs = [j for j in web.runs.jobs() if j.spec is not None]
        return web.page(request, "new_run.html", status=exc.status, jobs=jobs, selected=job,
                        limit=web.settings.max_upload_bytes, error=str(exc))
    suffix = f"?same_as={earlier[-1]}" if earlier else ""
    return RedirectResponse(f"/runs/{run_id}{suffix}", 303)


@guarded()
async def run_page(web: Web, request: Request, user: User, form: FormData | None) -> Response:
    run = web.store.run(_int(request.path_params["id"]))
    if run is None:
        raise WebError("no such run", 404)
    query = request.query_params
    executed = bool(run["exec_report"])
    phase = query.get("phase") or ("exec" if executed else "dry")
    phase = phase if phase in ("dry", "exec") else "dry"
    category = query.get("cat", "") if query.get("cat", "") in CATEGORY_LABELS else ""
    search = query.get("q", "")[:100]
    page_no = max(_int(query.get("page"), 1), 1)
    rows, matching = web.store.page_rows(run["id"], phase, category=category, search=search,
                                         offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    execution = web.runs.execution(run["id"])
    dry_running = web.runs.dry_running(run["id"])
    return web.page(
        request, "run.html", run=run, phase=phase, category=category, search=search,
        page_no=page_no, pages=max(math.ceil(matching / PAGE_SIZE), 1), rows=rows,
        matching=matching, labels=RESULT_LABELS if phase == "exec" else CATEGORY_LABELS,
        approvals=web.store.approvals(run["id"]),
        summary=run["exec_summary"] if phase == "exec" else run["dry_summary"],
        progress=execution.view() if execution and run["state"] == "executing" else None,
        checking=(dry_running.view() if dry_running else STARTING)
        if run["state"] in ("dry-running", "checking") else None,
        same_as=_int(query.get("same_as")),
        approval=web.runs.valid_approval(run), audit=web.store.audit_log(run_id=run["id"]),
    )


@guarded("preparer", post=True)
async def request_approval(web: Web, request: Request, user: User,
                           form: FormData | None) -> Response:
    run_id = _int(request.path_params["id"])
    web.runs.request_approval(run_id, user.name)
    return RedirectResponse(f"/runs/{run_id}", 303)


@guarded("approver", post=True)
async def decide(web: Web, request: Request, user: User, form: FormData | None) -> Response:
    run_id = _int(request.path_params["id"])
    decision = {"approve": "approved", "reject": "rejected"}.get(_text(form, "decision"))
    if decision is None:
        raise WebError("choose approve or reject")
    web.runs.decide(run_id, user.name, decision, _text(form, "comment"))
    return RedirectResponse(f"/runs/{run_id}", 303)


@guarded("preparer", post=True)
async def dry_run_again(web: Web, request: Request, user: User,
                        form: FormData | None) -> Response:
    run_id = _int(request.path_params["id"])
    web.runs.dry_run_again(run_id, user.name)
    return RedirectResponse(f"/runs/{run_id}", 303)


@guarded("preparer", "approver", post=True)
async def execute(web: Web, request: Request, user: User, form: FormData | None) -> Response:
    """Answers at once: the run page follows the re-check, then the execute or the changes."""
    run_id = _int(request.path_params["id"])
    try:
        await run_in_threadpool(web.runs.execute, run_id, user.name)
    except WebError as exc:
        web.store.audit(user.name, "execute refused", run_id, str(exc)[:500])
        raise
    return RedirectResponse(f"/runs/{run_id}", 303)


@guarded("preparer", "approver", post=True)
async def stop(web: Web, request: Request, user: User, form: FormData | None) -> Response:
    run_id = _int(request.path_params["id"])
    web.runs.stop(run_id, user.name)
    return RedirectResponse(f"/runs/{run_id}", 303)


@guarded()
async def progress(web: Web, request: Request, user: User, form: FormData | None) -> Response:
    from starlette.responses import JSONResponse

    run = web.store.run(_int(request.path_params["id"]))
    if run is None:
        raise WebError("no such run", 404)
    execution, dry_running = web.runs.execution(run["id"]), web.runs.dry_running(run["id"])
    if run["state"] in ("dry-running", "checking") and dry_running is not None:
        view = dry_running.view()
    else:
        view = execution.view() if execution else {}
    return JSONResponse({"state": run["state"], **view})


@guarded()
async def download(web: Web, request: Request, user: User, form: FormData | None) -> Response:
    run = web.store.run(_int(request.path_params["id"]))
    phase, kind = request.path_params["phase"], request.path_params["kind"]
    if run is None or phase not in ("dry", "exec") or kind not in ("xlsx", "json"):
        raise WebError("no such report", 404)
    path = web.runs.report_path(run, phase, kind)
    if not path.is_file():
        raise WebError("the report file is gone from the data folder", 404)
    web.store.audit(user.name, "download", run["id"], path.name)
    media = "application/json" if kind == "json" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = f"{run['job'].replace('/', '-').removesuffix('.yaml')}-run{run['id']}-" \
           f"{'dry-run' if phase == 'dry' else 'execute'}.{kind}"
    return FileResponse(path, media_type=media, filename=name)


# history, audit, users

@guarded()
async def history(web: Web, request: Request, user: User, form: FormData | None) -> Response:
    q = request.query_params
    runs = web.store.runs(state=q.get("state", ""), job=q.get("job", ""), user=q.get("user", ""))
    return web.page(request, "history.html", runs=runs, filters=dict(q),
                    jobs=sorted({r["job"] for r in web.store.runs(limit=1000)}))


@guarded("approver")
async def audit(web: Web, request: Request, user: User, form: FormData | None) -> Response:
    q = request.query_params
    entries = web.store.audit_log(user=q.get("user", ""), action=q.get("action", ""),
                                  run_id=_int(q.get("run")) or None)
    return web.page(request, "audit.html", entries=entries, filters=dict(q))


@guarded("admin")
async def users_page(web: Web, request: Request, user: User, form: FormData | None) -> Response:
    return web.page(request, "users.html", users=web.store.users(), roles=ROLES, error="")


@guarded("admin", post=True)
async def add_user(web: Web, request: Request, user: User, form: FormData | None) -> Response:
    name, role, password = _text(form, "name"), _text(form, "role"), form.get("password") \
        if form is not None else None
    problem = user_problem(name, role, password if isinstance(password, str) else "")
    if problem:
        return web.page(request, "users.html", status=400, users=web.store.users(),
                        roles=ROLES, error=problem)
    assert isinstance(password, str)
    web.store.add_user(name, role, hash_password(password))
    web.store.audit(user.name, "add user", detail=f"{name} as {role}")
    return RedirectResponse("/users", 303)


def user_problem(name: str, role: str, password: str) -> str:
    if not name or len(name) > 64 or not all(c.isalnum() or c in "._-@" for c in name):
        return "a user name is 1-64 letters, digits or . _ - @"
    if role not in ROLES:
        return f"role must be one of {', '.join(ROLES)}"
    if len(password) < 12:
        return "a password has at least 12 characters"
    return ""


def _money(minor: int, currency: str) -> str:
    """Minor units as text; a currency only its job declares is not known to a page (a run
    stored before the dry run kept its totals as text): then the minor units, said so."""
    try:
        return format_amount(minor, currency)
    except UnknownCurrency:
        return f"{minor:,} (minor units)"


def _when(timestamp: float | None) -> str:
    if not timestamp:
        return ""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def create_app(settings: Settings, *, secure_cookies: bool = False,
               limiter: SignInLimiter | None = None) -> Starlette:
    web = Web(settings, secure_cookies=secure_cookies, limiter=limiter)

    async def signin(request: Request) -> Response:
        return await signin_page(web, request)

    routes = [
        Route("/signin", signin, methods=["GET", "POST"]),
        Route("/signout", signout(web), methods=["POST"]),
        Route("/", home(web)),
        Route("/jobs", jobs_page(web)),
        Route("/jobs", job_upload(web), methods=["POST"]),
        Route("/jobs/{name:path}", job_page(web)),
        Route("/runs/new", new_run(web)),
        Route("/runs", create_run(web), methods=["POST"]),
        Route("/runs/{id:int}", run_page(web)),
        Route("/runs/{id:int}/request-approval", request_approval(web), methods=["POST"]),
        Route("/runs/{id:int}/dry-run", dry_run_again(web), methods=["POST"]),
        Route("/runs/{id:int}/decide", decide(web), methods=["POST"]),
        Route("/runs/{id:int}/execute", execute(web), methods=["POST"]),
        Route("/runs/{id:int}/stop", stop(web), methods=["POST"]),
        Route("/runs/{id:int}/progress", progress(web)),
        Route("/runs/{id:int}/{phase}.{kind}", download(web)),
        Route("/history", history(web)),
        Route("/audit", audit(web)),
        Route("/users", users_page(web)),
        Route("/users", add_user(web), methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.web = web
    app.add_middleware(SecurityHeaders)
    return app

