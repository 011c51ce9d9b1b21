"""A text progress bar on stderr for long stages (hypotheses searched, nights simulated, ...).

On a terminal the bar is redrawn in place (``\\r``) at most every 0.2 s; when stderr is a file
or a pipe (logs, CI) one line is written per tenth of the work instead, so logs stay short.
"""

import sys
import time


class ProgressBar:
    """Progress of ``total`` units of work, drawn on ``stream``.

    Parameters
    ----------
    total : int
        Units of work (≥ 0).
    label : str
        Name of the stage, printed first.
    unit : str
        Name of one unit, e.g. ``"hypotheses"``.
    stream : file, optional
        Where to draw; ``sys.stderr`` when omitted.

    Use ``update(done, note)`` after each step and ``close()`` at the end (or a ``with`` block).
    """

    WIDTH = 30
    REDRAW_S = 0.2

    def __init__(self, total: int, label: str, unit: str, stream=None):
        self.total = max(int(total), 0)
        self.label = label
        self.unit = unit
        self.stream = sys.stderr if stream is None else stream
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.perf_counter()
        self.last_draw = -float("inf")
        self.tenths = 0
        self.done = 0
        self.note = ""

    def _line(self) -> str:
        fraction = self.done / self.total if self.total else 1.0
        filled = round(self.WIDTH * fraction)
        elapsed = time.perf_counter() - self.start
        bar = "#" * filled + "." * (self.WIDTH - filled)
        note = f", {self.note}" if self.note else ""
        return (f"{self.label} [{bar}] {self.done}/{self.total} {self.unit}{note} "
                f"({elapsed:.1f} s)")

    def update(self, done: int, note: str = "") -> None:
        """Record that ``done`` units are finished; ``note`` is shown after the count."""
        self.done = min(int(done), self.total)
        self.note = note
        if self.interactive:
            now = time.perf_counter()
            if now - self.last_draw >= self.REDRAW_S or self.done == self.total:
                self.stream.write("\r" + self._line())
                self.stream.flush()
                self.last_draw = now
            return
        tenths = self.done * 10 // self.total if self.total else 10
        if tenths > self.tenths:
            self.tenths = tenths
            self.stream.write(self._line() + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Finish the bar (a newline on a terminal)."""
        if self.interactive:
            self.stream.write("\r" + self._line() + "\n")
            self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
