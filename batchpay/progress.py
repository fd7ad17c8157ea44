"""Progress of a run's long steps (read, validate, check, write, execute), for people.

The library announces each step with :class:`Step` through ``RunOptions.on_step`` and never
prints; :class:`ProgressPrinter` (the CLI's) shows it on stderr: one line redrawn in place on a
terminal; plain lines when stderr is a file or a pipe (every few seconds while a step runs, and
its time when it ends, so a step that fails at once leaves only the ``Error:`` line); nothing
when quiet. Output never goes to stdout, so ``--json`` stays machine-readable.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from batchpay.execute import Progress


@dataclass(frozen=True)
class Step:
    """One long step, announced when it starts; it ends when the next one starts."""

    name: str  # read, validate, check, write, execute
    label: str  # for people: "Reading deposits.csv"
    detail: Callable[[], str] | None = None  # polled while the step runs: "12 requests"


OnStep = Callable[[Step], None]

TTY_INTERVAL, PLAIN_INTERVAL = 0.2, 5.0
_SPINNER = "|/-\\"
_CLEAR = "\x1b[K"  # erase to the end of the line: a shorter redraw leaves no stray characters


def announce(on_step: OnStep | None, name: str, label: str,
             detail: Callable[[], str] | None = None) -> None:
    if on_step is not None:
        on_step(Step(name, label, detail))


class ProgressPrinter:
    """Shows steps and the execute bar on ``stream``; call :meth:`close` when the run ends."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None, quiet: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.quiet = quiet
        self.clock = clock
        self.interval = TTY_INTERVAL if self.tty else PLAIN_INTERVAL
        self.timings: list[tuple[str, float, str]] = []  # (step, seconds, last detail)
        self._step: Step | None = None
        self._started = 0.0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._ticker: threading.Thread | None = None
        self._last_progress = 0.0
        self._spin = 0

    # -- steps -------------------------------------------------------------------------------

    def __call__(self, step: Step) -> None:
        with self._lock:
            self._end_step()
            self._step, self._started = step, self.clock()
            self._last_progress = 0.0
            if self.quiet:
                pass
            elif self.tty and step.name != "execute":
                self._write(self._line(step, 0.0), final=False)
            elif not self.tty and step.name == "execute":  # the lines that follow are counts
                self._write(f"{step.label}...", final=True)
        if not self.quiet and step.name != "execute" and self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()

    def end_step(self) -> None:
        """End the current step now (e.g. before a prompt, which redraws must not overwrite)."""
        with self._lock:
            self._end_step()

    def close(self, *, failed: bool = False) -> None:
        """End the last step (not "done" when the run ``failed`` in it) and stop the ticker."""
        with self._lock:
            if failed and self._step is not None:
                if self.tty and not self.quiet:
                    self.stream.write("\r" + _CLEAR)  # the error line starts clean
                self._step = None
            self._end_step()
        self._wake.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None

    def _end_step(self) -> None:
        step = self._step
        if step is None:
            return
        seconds = self.clock() - self._started
        detail = step.detail() if step.detail else ""
        self.timings.append((step.name, seconds, detail))
        self._step = None
        if self.quiet or step.name == "execute":
            return
        extra = f", {detail}" if detail else ""
        self._write(f"{step.label}: done in {seconds:.1f} s{extra}", final=True)

    def _tick(self) -> None:
        while not self._wake.wait(self.interval):
            with self._lock:
                step = self._step
                if step is None or step.name == "execute":
                    continue
                self._write(self._line(step, self.clock() - self._started), final=not self.tty)

    def _line(self, step: Step, seconds: float) -> str:
        detail = step.detail() if step.detail else ""
        if not self.tty:
            return f"{step.label}: {seconds:.0f} s so far{', ' + detail if detail else ''}"
        self._spin = (self._spin + 1) % len(_SPINNER)
        extra = f"  {detail}" if detail else ""
        return f"{_SPINNER[self._spin]} {step.label} {seconds:.1f} s{extra}"

    def _write(self, line: str, *, final: bool) -> None:
        from batchpay.report.terminal import terminal_lines

        line = terminal_lines(line)  # step labels name the input file, which may hold ESC
        if self.tty:
            if not final:  # a redrawn line that wrapped could not be redrawn in place
                line = line[: shutil.get_terminal_size().columns - 1]
            self.stream.write("\r" + line + _CLEAR + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    # -- the execute bar ---------------------------------------------------------------------

    def execute(self, progress: Progress) -> None:
        """The executor's progress. The rate counts from the start of the execute step (after
        the confirmation prompt), not from the start of the run."""
        if self.quiet:
            return
        now = self.clock()
        finished = progress.done == progress.total
        if not finished and now - self._last_progress < self.interval:
            return
        with self._lock:
            self._last_progress = now
            started = self._started if self._step and self._step.name == "execute" else now
            elapsed = max(now - started, 1e-6)
            rate = progress.done / elapsed
            eta = (progress.total - progress.done) / rate if rate else 0.0
            line = (  # most telling first: a narrow terminal cuts the end of a redrawn line
                f"{bar(progress) if self.tty else ''}{progress.done:,}/{progress.total:,} done, "
                f"{rate:.1f} calls/s, ETA {duration(eta)}, {progress.posted:,} posted, "
                f"{progress.failed:,} failed, {progress.review:,} review, "
                f"{progress.retries:,} retries"
            )
            self._write(line, final=finished or not self.tty)


def duration(seconds: float) -> str:
    """``45s``, ``12m 05s``, ``2h 14m``."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def bar(progress: Progress, width: int = 16) -> str:
    filled = int(width * progress.done / max(progress.total, 1))
    return "[" + "#" * filled + "." * (width - filled) + "] "
