"""``python -m benchmarks``: issue 7's cases; writes a markdown report (default RESULTS.md).

    python -m benchmarks                       # the full run (about 15 minutes)
    python -m benchmarks --smoke --out X.md    # seconds: tiny sizes, for the smoke test
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import local, remote, web

HERE = Path(__file__).resolve().parent


def machine() -> dict[str, str]:
    import os

    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        memory = f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
        load = ", ".join(f"{x:.2f}" for x in psutil.getloadavg())
    except ImportError:
        memory = load = "?"
    return {"nproc": str(os.cpu_count()), "cpu": model, "memory": memory,
            "python": platform.python_version(), "os": platform.platform(),
            "load average at start": load}


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,100000", help="rows, local pipeline")
    p.add_argument("--rss-sizes", default="10000,100000,400000", help="rows, peak RSS")
    p.add_argument("--repeat", type=int, default=3, help="runs per local case (median)")
    p.add_argument("--rate", type=int, default=1200, help="calls/minute, execute cases")
    p.add_argument("--latency-ms", type=int, default=150)
    p.add_argument("--windows", type=float, default=3.0,
                   help="execute rows = rate x windows (each window is 60 s)")
    p.add_argument("--baseline-calls", type=int, default=300, help="calls per baseline loop")
    p.add_argument("--check-sizes", default="1000,10000", help="invoices, dry-run checks")
    p.add_argument("--web-sizes", default="100000", help="rows, web review page")
    p.add_argument("--dryrun-rows", type=int, default=20000,
                   help="rows, dry run at the site's rate limit (issue 14)")
    p.add_argument("--dryrun-rate", type=int, default=150, help="calls/minute, that dry run")
    p.add_argument("--cases", default="local,rss,execute,checks,faults,web,dryrun")
    p.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    p.add_argument("--workdir", type=Path, help="inputs and reports (default: a temp dir)")
    p.add_argument("--merge", type=Path, action="append", default=[],
                   help="a .json of an earlier run: its cases not run now go into the report "
                        "(repeatable)")
    p.add_argument("--note", action="append", default=[], help="a line for the report")
    p.add_argument("--smoke", action="store_true",
                   help="tiny sizes, one run each, a fast unthrottled sandbox")
    args = p.parse_args(argv)
    if args.smoke:
        args.sizes, args.rss_sizes, args.repeat = "200", "200", 1
        args.rate, args.latency_ms, args.windows, args.baseline_calls = 6000, 0, 0.02, 5
        args.check_sizes, args.web_sizes = "50", "200"
        args.dryrun_rows = 300
    return args


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    command = "python -m benchmarks " + shlex.join(argv if argv is not None else sys.argv[1:])
    cases = set(args.cases.split(","))
    results: dict[str, Any] = {"machine": machine(), "command": command.strip(),
                               "options": {k: str(v) for k, v in vars(args).items()}}
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="batchpay-bench-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if "local" in cases:
            results["local"] = local.pipeline_vs_floor(work, ints(args.sizes), args.repeat)
            _partial(args.out, results)
        if "rss" in cases:
            results["rss"] = local.peak_rss(work, ints(args.rss_sizes))
            _partial(args.out, results)
        if "execute" in cases:
            results["execute"] = remote.execute_case(work, args.rate, args.latency_ms,
                                                     args.windows, args.baseline_calls)
            _partial(args.out, results)
        if "checks" in cases:
            results["checks"] = remote.checks_case(work, ints(args.check_sizes))
            _partial(args.out, results)
        if "dryrun" in cases:
            results["dryrun"] = remote.dryrun_case(work, args.dryrun_rows, args.dryrun_rate)
            _partial(args.out, results)
        if "faults" in cases:
            clean = results.get("execute", {}).get("batchpay", {}).get("steady_fraction")
            results["faults"] = remote.faults_case(work, args.rate, args.latency_ms,
                                                   args.windows, clean)
        if "web" in cases:
            results["web"] = web.review_case(work, ints(args.web_sizes),
                                             repeat=1 if args.smoke else 5)
    results["wall_s"] = time.time() - started
    for merged in args.merge:
        earlier = json.loads(merged.read_text(encoding="utf-8"))
        for case in ("local", "rss", "execute", "checks", "faults", "web", "dryrun"):
            if case in earlier and case not in results:
                results[case] = earlier[case]
        results.setdefault("merged", []).append(
            {"from": earlier.get("command"), "machine": earlier.get("machine"),
             "wall_s": earlier.get("wall_s")})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results["notes"] = args.note
    args.out.write_text(render(results, smoke=args.smoke), encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str),
                                             encoding="utf-8")
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    return 0


def _partial(out: Path, results: dict[str, Any]) -> None:
    """Figures so far, in case a later case fails."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".partial.json").write_text(json.dumps(results, indent=1, default=str),
                                                encoding="utf-8")


def _rss_rows(runs: list[dict[str, Any]], fmt_name: str) -> list[str]:
    base = runs[0]
    rows = []
    for x in runs:
        slope = ((x["peak_rss_mb"] - base["peak_rss_mb"]) / ((x["rows"] - base["rows"]) / 1000)
                 if x["rows"] != base["rows"] else float("nan"))
        rows.append(f"| {x['rows']:,} | {fmt_name} | {x['peak_rss_mb']:.0f} | {fmt(slope)} |"
                    f" {x['seconds']:.1f} |")
    return rows


def _rss_goals(runs: list[dict[str, Any]], fmt_name: str) -> list[str]:
    goals = []
    at100 = [x for x in runs if x["rows"] == 100_000]
    if at100:
        mb = at100[0]["peak_rss_mb"]
        goals.append(f"| peak RSS ≤ 600 MB at 100k rows ({fmt_name}) | {mb:.0f} MB "
                     f"({mb / 600:.2f} of the goal) | {met(mb <= 600)} |")
    if len(runs) >= 3:
        a, b, c = runs[0], runs[-2], runs[-1]
        s1 = (b["peak_rss_mb"] - a["peak_rss_mb"]) / (b["rows"] - a["rows"])
        s2 = (c["peak_rss_mb"] - b["peak_rss_mb"]) / (c["rows"] - b["rows"])
        ratio = s2 / s1 if s1 > 0 else float("nan")
        goals.append(f"| RSS grows linearly, {fmt_name} (MB/row {b['rows']:,}→{c['rows']:,} vs "
                     f"{a['rows']:,}→{b['rows']:,}) | {fmt(ratio)}× | "
                     f"{met(ratio <= 1.2)} (≤ 1.2× taken as linear) |")
    return goals


def met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def fmt(x: float, digits: int = 2) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def render(r: dict[str, Any], *, smoke: bool = False) -> str:
    out = ["# batchpay benchmarks (issue 7)", ""]
    if smoke:
        out += ["_Smoke run: tiny sizes, figures meaningless._", ""]
    out += ["## Machine", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in r["machine"].items()]
    out += ["", "## Reproduce", "", "```sh", ".venv/bin/pip install -e '.[bench]'",
            r["command"], "```", "",
            (f"Whole run: {r['wall_s'] / 60:.1f} min." if not r.get("merged") or r["wall_s"] > 1
             else "This command only merges the runs listed below.")
            + " Raw figures: the .json file of the same name beside this one.", ""]
    if r.get("merged"):
        out += ["The full run is plain `python -m benchmarks` (defaults as in "
                "`python -m benchmarks --help`). The figures below were produced by the runs "
                "listed next, with those defaults, merged into this file by the command above.",
                ""]
    out += [f"- {note}" for note in r.get("notes", [])] + ([""] if r.get("notes") else [])
    for m in r.get("merged", []):
        out += [f"Cases not run by this command come from an earlier run on the same machine: "
                f"`{m['from']}` ({m['wall_s'] / 60:.1f} min; load average at its start "
                f"{m['machine'].get('load average at start')}).", ""]
    goals: list[str] = []
    if "local" in r:
        out += ["## 1. Local pipeline: offline dry run vs the openpyxl write-only floor", "",
                "`run_and_report(job, file, RunOptions(offline=True))` in process (read, parse,",
                "validate, plan, write the workbook and JSON summary), against openpyxl",
                "write-only alone writing a header and as many rows as the file has, each with",
                "as many plain (unstyled) values as the *Would post* sheet has columns. The two",
                "are interleaved in the same process; medians of the runs listed.", "",
                "| rows | input | columns | pipeline s (median) | floor s (median) | ratio |"
                " runs (pipeline / floor) |",
                "|---:|---|---:|---:|---:|---:|---|"]
        for x in r["local"]:
            runs = " ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(x["runs_s"], x["floors_s"],
                                                                strict=True))
            out.append(f"| {x['rows']:,} | {x['format']} | {x['columns']} | "
                       f"{x['pipeline_s']:.2f} | {x['floor_s']:.2f} | {x['ratio']:.2f}× |"
                       f" {runs} |")
            if x["rows"] == max(y["rows"] for y in r["local"]):
                for issue, bound in (("issue 7", 1.5), ("issue 14", 1.0)):
                    goals.append(f"| pipeline ≤ {bound}× floor at {x['rows']:,} rows "
                                 f"({x['format']}; {issue}) | {x['ratio']:.2f}× | "
                                 f"{met(x['ratio'] <= bound)} |")
        out.append("")
    if "rss" in r:
        out += ["### Peak memory (RSS)", "",
                "One offline dry run per size and input format, each in a fresh interpreter;",
                "psutil sampled every 20 ms and the kernel's `VmHWM` (/proc/self/status), the",
                "higher of the two.", "",
                "| rows | input | peak RSS MB | MB per 1k rows above the smallest run | seconds |",
                "|---:|---|---:|---:|---:|"]
        for fmt_name in dict.fromkeys(x.get("format", "csv") for x in r["rss"]):
            of_format = [x for x in r["rss"] if x.get("format", "csv") == fmt_name]
            measured = [x for x in of_format if "refused" not in x]
            out += _rss_rows(measured, fmt_name)
            goals += _rss_goals(measured, fmt_name)
        out += ["", *(f"Not measured: {x['rows']:,} rows, {x['format']}: the run ended with "
                      f"`{x['refused']}`" for x in r["rss"] if "refused" in x)]
        out.append("")
    if "execute" in r:
        e = r["execute"]
        b = e["batchpay"]
        out += ["## 2. Execute throughput against the sandbox (loopback)", "",
                f"`batchpay sandbox serve --rate-per-minute {e['rate_per_minute']} "
                f"--latency-ms {e['latency_ms']}` in its own process; batchpay executes "
                f"{e['rows']:,} rows ({e['rows'] / e['rate_per_minute']:.1f} windows of 60 s) "
                "with the same limit. Chargebee (and the sandbox) count a sliding 60 s, so the "
                "first window's calls may go out as a burst: **steady rate** = writes started "
                "at or after 60 s from the first write, divided by the time from that point to "
                "the last write's start. Write start times are stamped by a counting httpx "
                "transport under batchpay's client.", "",
                "| client | calls | time s | calls/s | fraction of limit "
                f"({e['rate_per_minute'] / 60:.1f}/s) | 429s | ledger writes |",
                "|---|---:|---:|---:|---:|---:|---:|",
                f"| batchpay execute, steady state | {b['steady_calls']:,} | "
                f"{fmt(b['span_s'] - 60, 1) if b['steady_calls'] > 1 else 'n/a'} | "
                f"{fmt(b['steady_per_s'])} | "
                f"{fmt(b['steady_fraction'])} | {b['statuses'].get(429, 0)} | |",
                f"| batchpay execute, whole run (incl. burst) | {b['calls']:,} | "
                f"{b['span_s']:.1f} | {fmt(b['overall_per_s'])} | "
                f"{fmt(b['overall_per_s'] / b['limit_per_s'])} | {b['statuses'].get(429, 0)} |"
                f" {b['ledger_writes']:,} |"]
        for name, label in (("httpx_loop", "sequential httpx loop (one Client)"),
                            ("sdk_loop", "official `chargebee` SDK, sequential")):
            x = e[name]
            if "skipped" in x:
                out.append(f"| {label} | skipped: {x['skipped']} | | | | | |")
                continue
            s429 = x.get("statuses", {}).get(429, 0) if name == "httpx_loop" else "—"
            out.append(f"| {label} | {x['calls']:,} | {x['seconds']:.1f} | {x['per_s']:.2f} | "
                       f"{x['fraction']:.2f} | {s429} | {x['ledger_writes']:,} |")
        out += ["", f"batchpay outcomes: {b['outcomes']}; HTTP statuses: {b['statuses']}; "
                f"every row posted exactly once (ledger): {b['posted_once']}.", "",
                "The SDK is pointed at the sandbox with `site=\"127\"`, "
                "`chargebee_domain=\"0.0.1:PORT\"`, `protocol=\"http\"` (its URL is "
                "`{protocol}://{site}.{domain}/api/v2`); its request code reads "
                "`Chargebee.verify_ca_certs` from the class and forces https when it is true, so "
                "the loop clears that class attribute. It opens a new connection per call.", ""]
        ok = (b["steady_fraction"] >= 0.95 and b["statuses"].get(429, 0) == 0
              and b["posted_once"])
        goals.append(f"| execute ≥ 0.95 of the rate limit, 0 rows lost to 429 | "
                     f"{fmt(b['steady_fraction'])} steady, {b['statuses'].get(429, 0)} × 429, "
                     f"posted once: {b['posted_once']} | {met(ok)} |")
    if "checks" in r:
        out += ["## 3. Dry-run checks: batched reads vs one read per row", "",
                "A dry run against a sandbox with no latency and no limit, requests counted by "
                "the client transport; against a loop of one `GET /invoices/{id}` per row.", "",
                "| invoices | batchpay requests | batchpay dry run s (whole run, incl. report)"
                " | one-per-row requests | one-per-row s | requests saved |"
                " at 150/min (test site) |",
                "|---:|---:|---:|---:|---:|---:|---|"]
        for x in r["checks"]:
            out.append(f"| {x['rows']:,} | {x['batchpay_requests']:,} | {x['batchpay_s']:.2f} |"
                       f" {x['per_row_requests']:,} | {x['per_row_s']:.2f} | "
                       f"{x['per_row_requests'] / x['batchpay_requests']:.0f}× | "
                       f"{x['batchpay_requests'] / 150:.1f} min vs "
                       f"{x['per_row_requests'] / 150:.1f} min (computed) |")
        out.append("")
    if "faults" in r:
        f = r["faults"]
        e = r.get("execute", {}).get("batchpay")
        clean_rows = (f["rows_per_s"] / (e["outcomes"].get("posted", 0) / e["seconds"])
                      if e and e["outcomes"].get("posted") else float("nan"))
        out += ["## 4. Under faults: 5% 5xx, 2% apply-then-drop", "",
                f"Same as case 2 ({f['rows']:,} rows, {f['rate_per_minute']}/min, "
                f"{f['latency_ms']} ms) with 5% 5xx and 2% apply-then-drop (fault seed 11), "
                "on from the sandbox's start, so the dry-run reads before execute get them "
                "too. Steady rate counts every write sent (retries included); fraction of "
                "clean = rows posted/s here / rows posted/s in case 2 (whole runs).", "",
                "Rows posted per second over the whole run (reads, writes, retries, report) "
                "is the fairer throughput: retried writes count against the limit but post "
                "nothing. The steady write rate can exceed the limit slightly: a sliding window "
                "bounds every 60 s span, not an arbitrary 2-minute interval (no 429 was "
                "received).", "",
                "| rows | outcomes | statuses | ledger writes | posted exactly once |"
                " steady writes/s (incl. retries) | fraction of limit | rows posted/s"
                " (whole run) | fraction of clean (rows posted/s) |",
                "|---:|---|---|---:|---|---:|---:|---:|---:|",
                f"| {f['rows']:,} | {f['outcomes']} | {f['statuses']} | {f['ledger_writes']:,}"
                f" | {f['posted_once']} | {fmt(f['steady_per_s'])} | "
                f"{fmt(f['steady_fraction'])} | {f['rows_per_s']:.2f} | {fmt(clean_rows)} |", ""]
        if "read_statuses" in f:
            out += [f"Reads (GET) answered, by status: {f['read_statuses']}. Each read is "
                    "retried on its own (a transport under the rate limiter), so a 5xx on one "
                    "page of invoices costs one request, not the whole read.", ""]
        goals.append(f"| under faults every row posted exactly once | ledger "
                     f"{f['ledger_writes']:,} writes for {f['rows']:,} rows, "
                     f"{fmt(clean_rows)} of clean rows posted/s | "
                     f"{met(bool(f['posted_once']))} |")
    if "web" in r:
        out += ["## 5. Web review page: first paint (server time)", "",
                "`batchpay web`'s review page for one run, requested in process through "
                "Starlette's TestClient (routing, session, the paged SQLite query, the "
                "template). The run is uploaded through the app first, which answers at once and "
                "dry-runs in the background (the synthetic invoices are not in the sandbox: every "
                "row would fail); the pages are timed after the dry run ended. Medians.",
                "", "| rows | upload answered s | upload + dry run s | " + " | ".join(
                    f"{name} s" for name in web.VIEWS) + " |",
                "|---:|---:|---:|" + "---:|" * len(web.VIEWS)]
        for x in r["web"]:
            answered = x.get("upload_answer_s")  # older runs: the upload waited for the dry run
            out.append(f"| {x['rows']:,} | {'n/a' if answered is None else f'{answered:.2f}'} | "
                       f"{x['upload_and_dry_run_s']:.1f} | " + " | ".join(
                f"{x['views'][name]['median_s']:.3f}" for name in web.VIEWS) + " |")
            if x["rows"] == max(y["rows"] for y in r["web"]):
                first = x["views"]["first page"]["median_s"]
                goals.append(f"| review page first paint well under 1 s at {x['rows']:,} rows"
                             f" | {first:.3f} s | {met(first < 0.5)} (< 0.5 s) |")
        out.append("")
    if "dryrun" in r:
        d = r["dryrun"]
        out += ["## 6. A large dry run at the site's rate limit (issue 14)", "",
                f"`batchpay sandbox serve --rate-per-minute {d['rate_per_minute']}` with "
                f"{d['rows']:,} invoices, {d['payments_on_site']:,} of them already paid by a "
                "payment with the row's reference (P, dated in the file's window); batchpay "
                f"dry-runs the {d['rows']:,}-row file at the same limit. Requests counted by "
                "the client transport; the time is the whole run (read, checks, report). Goal: "
                "requests ≤ ⌈N/100⌉ + ⌈P/100⌉ and under 90 s.", "",
                "| rows (N) | payments on site (P) | calls/min | requests | ⌈N/100⌉ + ⌈P/100⌉ |"
                " seconds | outcomes | statuses |",
                "|---:|---:|---:|---:|---:|---:|---|---|",
                f"| {d['rows']:,} | {d['payments_on_site']:,} | {d['rate_per_minute']} | "
                f"{d['requests']:,} | {d['requests_goal']:,} | {d['seconds']:.1f} | "
                f"{d['outcomes']} | {d['statuses']} |", ""]
        goals.append(f"| {d['rows']:,}-row dry run at {d['rate_per_minute']}/min: requests ≤ "
                     f"⌈N/100⌉ + ⌈P/100⌉ | {d['requests']:,} (goal {d['requests_goal']:,}) | "
                     f"{met(d['requests'] <= d['requests_goal'])} |")
        goals.append(f"| {d['rows']:,}-row dry run at {d['rate_per_minute']}/min under 90 s | "
                     f"{d['seconds']:.1f} s | {met(d['seconds'] < 90)} |")
    out += ["## Goals", "", "| goal | measured | |", "|---|---|---|", *goals, ""]
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
