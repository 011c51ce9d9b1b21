"""Provenance of the files the toolkit writes: what made them, from what, with what.

Every Parquet file the toolkit writes carries, in its key-value metadata under
:data:`METADATA_KEY`, one JSON object:

``toolkit``, ``version``
    The distribution (``sso-toolkit``) and its version (:data:`__version__`).
``command``
    The command that ran (``sso night``), when one did.
``function``
    The library function that ran (``sso.night.run_night``) or wrote the file.
``settings``
    The options and settings that determine the result (JSON: numbers, text, lists, objects);
    not where the output goes nor how the work is spread (executor, workers), which do not
    change it.
``inputs``
    Each input of the run by its role (``diasources``): the file name and fingerprint
    (:func:`fingerprint`) of a file or folder, the fingerprint of an in-memory table.
``kernels``
    The SPK kernels of the force model — DE440 and, when installed, sb441-n16 (those
    :func:`ephemerides.spk.load_perturbers` reads by default) and any other this process has
    read — by file name, with their SHA-256.
``libraries``
    The versions of Python and of the numerical libraries the result depends on.

Nothing that changes from run to run is recorded (no date, host, user, output location or
executor), so that the same inputs and settings give the same file, byte for byte, wherever
and however they run. A run states its command, settings and inputs once (:func:`recording`, a
context manager that the command line opens, and :func:`recorded` around the library's
file-writing entry points); the writers (:func:`schema_metadata`) add the rest.
:func:`read_provenance` reads it back (``sso info FILE``).
"""

import contextvars
import functools
import hashlib
import importlib.metadata
import inspect
import json
import os
import platform
from contextlib import contextmanager
from pathlib import Path

DISTRIBUTION = "sso-toolkit"
METADATA_KEY = b"sso_toolkit.provenance"
LIBRARIES = ("numpy", "numba", "scipy", "pandas", "pyarrow", "astropy", "healpy")
_CHUNK = 1 << 20

try:
    __version__ = importlib.metadata.version(DISTRIBUTION)
except importlib.metadata.PackageNotFoundError:  # run from a source tree never installed
    __version__ = "0+unknown"

_RUN: contextvars.ContextVar[dict | None] = contextvars.ContextVar("sso_provenance_run",
                                                                   default=None)


@contextmanager
def recording(function: str, settings: dict | None = None, inputs: dict | None = None,
              command: str | None = None):
    """State the provenance of the files written inside the ``with`` block.

    Parameters
    ----------
    function : str
        The function that runs (``"sso.night.run_night"``).
    settings : dict, optional
        The settings that determine its result; values that JSON cannot hold (paths,
        dataclasses, NumPy scalars) are converted.
    inputs : dict, optional
        Role → each input it reads: the path of a file or folder, or a table (pandas); None
        where not given. Each is fingerprinted (:func:`fingerprint`) now.
    command : str, optional
        The command, when one runs (``"sso night"``).

    An inner ``recording`` (a library entry point called by the command line) keeps the outer
    one's command, adds its settings to the outer ones, adds the inputs of roles the outer one
    has not fingerprinted (a file read into a table is known by the file) and names its own
    function.
    """
    outer = _RUN.get() or {}
    known = outer.get("inputs", {})
    run = {
        "command": command or outer.get("command"),
        "function": function,
        "settings": {**outer.get("settings", {}), **_jsonable(settings or {})},
        "inputs": {**{str(role): _input(value) for role, value in (inputs or {}).items()
                      if value is not None and str(role) not in known}, **known},
    }
    token = _RUN.set(run)
    try:
        yield run
    finally:
        _RUN.reset(token)


def recorded(settings: tuple[str, ...] = (), inputs: tuple[str, ...] = ()):
    """Decorator: each call of the function runs inside :func:`recording` of its qualified
    name, with the arguments named in ``settings`` as its settings and those named in
    ``inputs`` as its inputs."""

    def decorate(function):
        signature = inspect.signature(function)
        name = f"{function.__module__}.{function.__qualname__}"

        @functools.wraps(function)
        def run(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            with recording(name, {key: bound.arguments[key] for key in settings},
                           {key: bound.arguments[key] for key in inputs}):
                return function(*args, **kwargs)

        return run

    return decorate


def provenance(function: str | None = None, settings: dict | None = None,
               of_run: bool = True) -> dict:
    """The provenance of a file written now: the run's (:func:`recording`; without it when
    ``of_run`` is False, for a file that outlives its run, such as a nightly cache reused by
    later ones), with ``function`` (the writer, when no run is recorded) and ``settings``
    added, the kernels and the library versions."""
    run = (_RUN.get() if of_run else None) or {}
    return {
        "toolkit": DISTRIBUTION,
        "version": __version__,
        "command": run.get("command"),
        "function": run.get("function") or function,
        "settings": {**run.get("settings", {}), **_jsonable(settings or {})},
        "inputs": run.get("inputs", {}),
        "kernels": {Path(path).name: _sha256(path) for path in _kernels()},
        "libraries": {"python": platform.python_version(),
                      **{name: _library_version(name) for name in LIBRARIES}},
    }


def schema_metadata(existing: dict | None = None, function: str | None = None,
                    settings: dict | None = None, of_run: bool = True) -> dict[bytes, bytes]:
    """Parquet key-value metadata: ``existing`` (e.g. pandas' own) with the provenance
    (:func:`provenance`) added under :data:`METADATA_KEY`."""
    text = json.dumps(provenance(function, settings, of_run), sort_keys=True,
                      separators=(",", ":"))
    return {**(existing or {}), METADATA_KEY: text.encode()}


def read_provenance(path) -> dict | None:
    """The provenance a Parquet file carries, or None when it carries none (not written by the
    toolkit, or by a version before provenance was recorded)."""
    import pyarrow.parquet as pq

    metadata = pq.read_schema(path).metadata or {}
    text = metadata.get(METADATA_KEY)
    return None if text is None else json.loads(text)


def fingerprint(path) -> str:
    """``"sha256:<hex>"`` of a file's bytes; of a folder, of its files' relative paths and
    fingerprints in sorted order (hidden files, such as a lock or a temporary file, left out);
    ``"missing"`` when nothing is there."""
    path = Path(path)
    if path.is_file():
        return "sha256:" + _sha256(str(path.resolve()))
    if not path.is_dir():
        return "missing"
    digest = hashlib.sha256()
    for root, folders, files in os.walk(path):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for name in sorted(f for f in files if not f.startswith(".")):
            full = Path(root) / name
            digest.update(f"{full.relative_to(path).as_posix()}\0{_sha256(str(full))}\n".encode())
    return "sha256:" + digest.hexdigest()


def table_fingerprint(table) -> str:
    """``"sha256:<hex>"`` of a pandas table: its column names and types, and its rows as a set
    (each row's 64-bit pandas hash over the columns in name order, sorted), so that neither the
    order of the rows nor that of the columns, nor the index, changes it; array cells (a
    covariance) by their bytes."""
    import numpy as np
    import pandas as pd

    names = sorted(table.columns, key=str)
    digest = hashlib.sha256()
    cells = {}
    for name in names:
        column = table[name]
        digest.update(f"{name}\0{column.dtype}\n".encode())
        try:
            pd.util.hash_pandas_object(column.iloc[:1], index=False)
            cells[str(name)] = column.to_numpy()
        except TypeError:  # unhashable cells: arrays or lists
            cells[str(name)] = column.map(
                lambda cell: cell if isinstance(cell, str) else np.asarray(cell).tobytes()
            ).to_numpy()
    rows = pd.util.hash_pandas_object(pd.DataFrame(cells), index=False).to_numpy()
    digest.update(np.sort(rows).tobytes())
    return "sha256:" + digest.hexdigest()


def _input(value) -> dict:
    """The record of one input: a table's fingerprint, a file's (folder's) name and
    fingerprint, or else the type of the object given."""
    if hasattr(value, "columns") and hasattr(value, "dtypes"):
        return {"table": f"{len(value)} rows", "fingerprint": table_fingerprint(value)}
    if isinstance(value, str | os.PathLike):
        return {"file": Path(value).name, "fingerprint": fingerprint(value)}
    return {"object": type(value).__name__}  # e.g. a NightlyCache built in this process


def _sha256(path: str) -> str:
    stat = os.stat(path)
    return _sha256_of(os.path.realpath(path), stat.st_size, stat.st_mtime_ns)


@functools.cache
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    """SHA-256 of a file, once per process for each (path, size, modification time): a kernel
    of 650 MB takes ~1 s."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _kernels() -> list[str]:
    from ephemerides.spk import asteroid_kernel, default_planetary_kernel, loaded_kernels

    defaults = [default_planetary_kernel(), asteroid_kernel()]
    return sorted({os.path.realpath(path) for path in [*defaults, *loaded_kernels()]
                   if path is not None})


def _library_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _jsonable(value):
    """``value`` with what JSON cannot hold (paths, NumPy scalars, tuples, dataclasses) turned
    into what it can: numbers, text, lists and objects with text keys."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(item) for item in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else repr(value)
    if hasattr(value, "__dataclass_fields__"):
        return {name: _jsonable(getattr(value, name)) for name in value.__dataclass_fields__}
    if hasattr(value, "item") and callable(value.item):  # NumPy scalar
        try:
            return _jsonable(value.item())
        except (TypeError, ValueError):
            pass
    return str(value)
