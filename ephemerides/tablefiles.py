"""Reading a user's table file, Parquet or CSV, with errors that name the file.

A damaged or mislabelled file (not Parquet despite its suffix, a CSV that does not parse, bytes
that are not text) is bad input: :class:`ephemerides.errors.InputError` naming the file and
what was wrong, never the reader library's own exception.
"""

from pathlib import Path

import pandas as pd
import pyarrow as pa

from ephemerides.errors import InputError

SUFFIXES = (".parquet", ".csv")


def read_table_file(path, what: str, kind: str | None = None) -> pd.DataFrame:
    """The table in ``path``; ``what`` names it in messages (e.g. "visit file"); ``kind``
    ("parquet" or "csv") as the suffix says (``.parquet``, ``.csv``) when None.

    Raises
    ------
    InputError
        When the path is missing or a folder, its suffix names neither format, or the file
        cannot be read as its format.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{what} {path} is a folder; give a .parquet or .csv file")
    if not path.is_file():
        raise InputError(f"{what} {path} does not exist")
    if kind is None:
        if path.suffix.lower() not in SUFFIXES:
            raise InputError(f"{what} {path} must be .parquet or .csv; got {path.suffix!r}")
        kind = path.suffix.lower()[1:]
    try:
        return pd.read_parquet(path) if kind == "parquet" else pd.read_csv(path)
    except (pa.ArrowException, ValueError) as error:  # pandas' parser errors are ValueErrors
        message = " ".join(str(error).split())
        raise InputError(f"{what} {path} cannot be read as "
                         f"{'Parquet' if kind == 'parquet' else 'CSV'}: {message}") from None
