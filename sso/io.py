"""Table output shared by the command-line verbs: atomic writes of Parquet or CSV."""

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


def write_table_atomic(table: pd.DataFrame, path) -> Path:
    """Write ``table`` to ``path`` (Parquet or CSV by suffix) atomically.

    The table goes to a temporary file in the destination folder, which is renamed over ``path``
    only once complete, so a failure never leaves a partial file behind.
    """
    path = check_table_path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    # mkstemp creates the file private (0600); give it the permissions of an ordinary new file.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_name, 0o666 & ~umask)
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
