"""Output shared by the command-line verbs: atomic writes of tables (Parquet, CSV) and text."""

import os
import tempfile
from pathlib import Path

import pandas as pd

TABLE_SUFFIXES = (".parquet", ".csv")


def check_table_path(path) -> Path:
    """Return ``path`` as a Path after checking that its suffix names a table format we write."""
    path = Path(path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise ValueError(
            f"output file {path} has suffix {path.suffix!r}; use one of {', '.join(TABLE_SUFFIXES)}"
        )
    if not path.parent.exists():
        raise ValueError(f"output folder {path.parent} does not exist")
    return path


def make_ordinary(name: str) -> None:
    """mkstemp creates files private (0600); give one the permissions of an ordinary new file."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)


def write_table_atomic(table: pd.DataFrame, path) -> Path:
    """Write ``table`` to ``path`` (Parquet or CSV by suffix) atomically.

    The table goes to a temporary file in the destination folder, which is renamed over ``path``
    only once complete, so a failure never leaves a partial file behind.
    """
    path = check_table_path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    make_ordinary(tmp_name)
    try:
        if path.suffix.lower() == ".parquet":
            table.to_parquet(tmp_name, index=False)
        else:
            table.to_csv(tmp_name, index=False, float_format="%.12g")
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(text: str, path) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, as :func:`write_table_atomic` does."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        make_ordinary(tmp_name)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def read_diasources(path, option: str) -> pd.DataFrame:
    """A DIASource table from a Parquet/CSV file, or every ``diasources*.parquet`` of a folder
    (in name order); ``option`` names the command-line option in error messages."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("diasources*.parquet"))
        if not files:
            raise ValueError(f"{option} folder {path} holds no diasources*.parquet files")
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    if not path.is_file():
        raise ValueError(f"{option} {path} does not exist")
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path)
    raise ValueError(f"{option} {path} must be .parquet, .csv or a folder")
