"""Guards of the nightly state folder: one writer at a time, and a ledger of the nights run.

Lock
----
``<state>/.lock`` holds an exclusive ``flock`` for as long as a run writes the state, and names
that run (process, host, command, start time in UTC). A second run is refused at once with
that name. The kernel releases the lock of a process that dies, however it dies, so a lock left
by a killed run is recognised (its holder is still written in the file) and taken over.

Ledger
------
``<state>/nights.json`` lists the nights run, each with its date and status: ``"processed"``
or ``"no DIASources"`` (a night lost to weather). The last night is the latest in the ledger or
in the rolling window's files (a state written before the ledger existed).
"""

import fcntl
import json
import os
import socket
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ephemerides.errors import InputError
from sso.io import write_text_atomic

LOCK_NAME = ".lock"
LEDGER_NAME = "nights.json"
PROCESSED = "processed"
NO_DIASOURCES = "no DIASources"


class StateInUseError(InputError):
    """The state folder is locked by another run."""


def _holder_text(record: dict) -> str:
    return (f"process {record.get('pid', '?')} on {record.get('host', '?')} "
            f"({record.get('command', '?')}) since {record.get('since', '?')}")


@contextmanager
def state_lock(state: Path, command: str):
    """Hold the state folder's lock (created with the folder if missing) while the block runs.

    Yields the record of a run that died holding it (its lock file still names it), or None.

    Raises
    ------
    StateInUseError
        At once, naming the holder, when another live run holds the lock.
    """
    state = Path(state)
    state.mkdir(parents=True, exist_ok=True)
    handle = open(state / LOCK_NAME, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise StateInUseError(
                f"state_dir={str(state)!r} is in use by {_holder_text(_parse(handle.read()))}; "
                "wait for that run to end (two runs on one state would corrupt it)") from None
        handle.seek(0)
        left = _parse(handle.read()) or None
        record = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                  "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
        try:
            yield left
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
    finally:
        handle.close()  # releases the flock


def _parse(text: str) -> dict:
    try:
        record = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        return {"command": "unreadable lock record"}
    return record if isinstance(record, dict) else {}


def read_ledger(state: Path) -> dict[int, dict]:
    """Night (MJD of its noon) → ``{"date", "status"}`` of every night the state records."""
    path = Path(state) / LEDGER_NAME
    if not path.is_file():
        return {}
    try:
        nights = json.loads(path.read_text(encoding="utf-8"))["nights"]
        return {int(night): dict(entry) for night, entry in nights.items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InputError(f"{path} is not a ledger of nights written by sso night; restore it "
                         "from a backup or start a new state folder") from None


def write_ledger(state: Path, ledger: dict[int, dict]) -> None:
    """Replace the ledger atomically (nights in order)."""
    nights = {str(night): ledger[night] for night in sorted(ledger)}
    write_text_atomic(json.dumps({"nights": nights}, indent=2) + "\n",
                      Path(state) / LEDGER_NAME)


def nights_run(state: Path) -> set[int]:
    """Every night the state holds: the ledger's and those of the window's files."""
    window = Path(state) / "window"
    from_files = ({int(path.stem.split("=", 1)[1]) for path in window.glob("night=*.parquet")}
                  if window.is_dir() else set())
    return set(read_ledger(state)) | from_files
