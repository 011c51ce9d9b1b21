"""One progress protocol for the toolkit's long work, silent unless asked.

A function that reports progress takes ``progress``: None (the default: nothing is reported)
or a callable that receives one :class:`Update` per report. The same callable may be passed
down through every layer (``sso night`` → association, linking search, orbit fits), so a
program sees the whole run's progress in one place. Two kinds of report:

- a **stage's count**: ``stage`` (what is being done, e.g. ``"orbit fits"``), ``done`` of
  ``total`` ``unit`` (``total`` None when unknown, as for a download without a length), a
  ``note`` (what was found so far) and, on the stage's last report, ``finished``;
- a **message**: ``message``, one line about the work (a stage's result), from ``stage``.

Library code reports through :func:`stage` and :func:`message`, which do nothing when
``progress`` is None. The command line renders the reports with :class:`ConsoleProgress`:
tqdm bars on a terminal, and in a log (stderr a file or a pipe) one line per tenth of each
stage, so logs stay short.
"""

import sys
from collections.abc import Callable
from dataclasses import dataclass

from tqdm import tqdm


@dataclass(frozen=True)
class Update:
    """One report of long work (see the module docstring)."""

    stage: str
    done: int = 0
    total: int | None = None
    unit: str = ""
    note: str = ""
    finished: bool = False
    message: str = ""


Progress = Callable[[Update], None]


class Stage:
    """The reports of one stage to ``progress`` (None: none); made by :func:`stage`."""

    def __init__(self, progress: Progress | None, name: str, total: int | None, unit: str):
        self.progress = progress
        self.name = name
        self.total = None if total is None else max(int(total), 0)
        self.unit = unit
        self.done = 0
        self.note = ""
        self.closed = False
        self._send(False)

    def _send(self, finished: bool) -> None:
        if self.progress is not None:
            self.progress(Update(self.name, self.done, self.total, self.unit, self.note,
                                 finished))

    def update(self, done: int, note: str = "") -> None:
        """``done`` units are finished; ``note`` tells what was found so far."""
        self.done = int(done) if self.total is None else min(int(done), self.total)
        self.note = note
        self._send(False)

    def close(self) -> None:
        """The stage's last report (``finished``), once."""
        if not self.closed:
            self.closed = True
            self._send(True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def stage(progress: Progress | None, name: str, total: int | None, unit: str = "") -> Stage:
    """Start reporting a stage of ``total`` ``unit`` to ``progress``; use as a context manager
    (or call ``close``) so that its last report is sent."""
    return Stage(progress, name, total, unit)


def message(progress: Progress | None, stage_name: str, text: str) -> None:
    """Report one line ``text`` about the work of ``stage_name`` to ``progress``."""
    if progress is not None:
        progress(Update(stage_name, message=text))


class ConsoleProgress:
    """Render :class:`Update` reports on ``stream`` (stderr when omitted).

    On a terminal each stage is a tqdm bar, closed on its last report, and messages are
    written above the bars. Elsewhere (a log) a stage writes one line per tenth of its total
    (or per report when the total is unknown) and its last report, and messages one line each.
    Every line starts with ``prefix`` (e.g. ``"sso night 2025-11-21"``) when given.
    """

    def __init__(self, prefix: str = "", stream=None):
        self.prefix = f"{prefix}: " if prefix else ""
        self.stream = sys.stderr if stream is None else stream
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.bars: dict[str, tqdm] = {}
        self.tenths: dict[str, int] = {}  # per stage in a log: the last tenth written
        self.logged: dict[str, tuple] = {}  # and its last line's (done, note)

    def __call__(self, update: Update) -> None:
        if update.message:
            line = f"{self.prefix}{update.message}"
            if self.interactive:
                tqdm.write(line, file=self.stream)
            else:
                print(line, file=self.stream, flush=True)
            return
        if self.interactive:
            self._draw(update)
        else:
            self._log(update)

    def _draw(self, update: Update) -> None:
        bar = self.bars.get(update.stage)
        if bar is None:
            bar = self.bars[update.stage] = tqdm(
                total=update.total, desc=f"{self.prefix}{update.stage}", unit=f" {update.unit}",
                file=self.stream, leave=True, dynamic_ncols=True)
        bar.update(update.done - bar.n)
        if update.note:
            bar.set_postfix_str(update.note, refresh=False)
        if update.finished:
            bar.close()
            del self.bars[update.stage]

    def _log(self, update: Update) -> None:
        key = update.stage
        if update.finished:
            self.tenths.pop(key, None)
            if self.logged.pop(key, None) == (update.done, update.note):
                return  # its last line is already written
        else:
            if not update.total:
                return  # unknown total (or nothing to do): the last report alone
            tenth = update.done * 10 // update.total
            if tenth <= self.tenths.get(key, 0):
                return
            self.tenths[key] = tenth
            self.logged[key] = (update.done, update.note)
        count = update.done if update.total is None else f"{update.done}/{update.total}"
        note = f", {update.note}" if update.note else ""
        print(f"{self.prefix}{key}: {count} {update.unit}{note}".rstrip(), file=self.stream,
              flush=True)
