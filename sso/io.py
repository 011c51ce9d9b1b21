"""Files shared by the command-line verbs and the pipeline: atomic writes of tables (Parquet,
CSV) and text; DIASource tables read from a file, a folder, or a partitioned dataset.

Partitioned DIASource datasets
------------------------------
DIASources as a Parquet dataset partitioned by night (and optionally by sky pixel). Layout
(Hive partitioning, which pyarrow, Dask, Spark and DuckDB read as it is)::

    FOLDER/night=61000/part-0.parquet                  by night
    FOLDER/night=61000/pixel=17/part-0.parquet         by night and HEALPix pixel (NESTED)

``night`` is the MJD of the noon that starts the night (:func:`sso.cadence.night_of`);
``pixel`` the HEALPix pixel, at ``sky_nside``, of the visit's boresight (``fieldRA``,
``fieldDec``), so that every visit lies in one partition. Rows are sorted by ``(visit,
diaSourceId)`` and written in row groups of ``ROW_GROUP_ROWS``, so a reader that wants a few
visits skips the others' row groups by their statistics. The partition columns are not stored
in the files (the folder names carry them); reading gives back the written table's columns.

Readers load only what they ask for: :func:`read_diasource_dataset` with ``nights`` opens those
nights' folders alone, with ``visits`` the row groups of those visits — a worker of
:func:`sso.association.associate` reads its own visits and nothing else.
"""

import os
import tempfile
from pathlib import Path

import healpy as hp
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ephemerides.errors import InputError
from ephemerides.provenance import schema_metadata
from ephemerides.tablefiles import read_table_file
from sso.cadence import night_of

TABLE_SUFFIXES = (".parquet", ".csv")
ROW_GROUP_ROWS = 65_536
PART_NAME = "part-0.parquet"


def check_table_path(path) -> Path:
    """Return ``path`` as a Path after checking that its suffix names a table format we write."""
    path = Path(path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise InputError(
            f"output file {path} has suffix {path.suffix!r}; use one of {', '.join(TABLE_SUFFIXES)}"
        )
    if not path.parent.is_dir():
        raise InputError(f"output folder {path.parent} does not exist")
    if path.is_dir():
        raise InputError(f"output file {path} is a folder; give a file name")
    _check_writable(path.parent, f"output file {path}")
    return path


def _check_writable(folder: Path, what: str) -> None:
    """Refuse, before any work, a folder this process cannot create files in (permissions, a
    read-only or virtual file system): a file is made there and removed at once."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".sso-write-check.", dir=folder)
    except OSError as err:
        raise InputError(f"{what}: cannot write in {folder} ({err.strerror})") from None
    os.close(fd)
    os.unlink(probe)


def check_output_folder(path, name: str = "out") -> Path:
    """``path`` as a Path after checking, before any work and without creating anything, that
    it is a folder (or can be created as one) this process may write into; ``name`` is the
    parameter named in the message."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{name} {path} is a file; give a folder (created if missing)")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{name} {path}: {existing} is not a folder")
    _check_writable(existing, f"{name} {path}")
    return path


def make_ordinary(name: str) -> None:
    """mkstemp creates files private (0600); give one the permissions of an ordinary new file."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)


def write_table_atomic(table: pd.DataFrame, path, row_group_size: int | None = None,
                       function: str = "sso.io.write_table_atomic") -> Path:
    """Write ``table`` to ``path`` (Parquet or CSV by suffix) atomically.

    The table goes to a temporary file in the destination folder, which is renamed over ``path``
    only once complete, so a failure never leaves a partial file behind. ``row_group_size``:
    rows per Parquet row group (default pyarrow's). A Parquet file carries the provenance of
    the run (:mod:`ephemerides.provenance`; ``function`` names the writer when no run is
    recorded).
    """
    path = check_table_path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    make_ordinary(tmp_name)
    try:
        if path.suffix.lower() == ".parquet":
            arrow = pa.Table.from_pandas(table, preserve_index=False)
            arrow = arrow.replace_schema_metadata(
                schema_metadata(arrow.schema.metadata, function=function))
            pq.write_table(arrow, tmp_name, row_group_size=row_group_size)
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


def read_diasources(path, option: str, nights=None) -> pd.DataFrame:
    """A DIASource table from a Parquet/CSV file, a partitioned dataset (only ``nights``, if
    given: :func:`read_diasource_dataset`), or every ``diasources*.parquet`` of a folder (in
    name order); ``option`` names the command-line option in error messages."""
    path = Path(path)
    if is_diasource_dataset(path):
        return read_diasource_dataset(path, nights=nights)
    if path.is_dir():
        files = sorted(path.glob("diasources*.parquet"))
        if not files:
            raise InputError(f"{option} folder {path} holds neither diasources*.parquet files nor "
                             "night=N partitions")
        return pd.concat([read_table_file(f, option) for f in files], ignore_index=True)
    return read_table_file(path, option)


def is_diasource_dataset(path) -> bool:
    """Whether ``path`` is a folder laid out as a partitioned dataset (``night=N`` folders)."""
    path = Path(path)
    return path.is_dir() and any(path.glob("night=*"))


def check_sky_nside(sky_nside) -> int:
    """A dataset's HEALPix partition order, checked: a power of two."""
    if not (isinstance(sky_nside, int) and hp.isnsideok(sky_nside, nest=True)):
        raise InputError(f"sky_nside must be a power of two; got {sky_nside!r}")
    return sky_nside


def write_diasource_dataset(diasources: pd.DataFrame, folder, visits: pd.DataFrame | None = None,
                            sky_nside: int | None = None) -> list[Path]:
    """Write DIASources into ``folder`` partitioned by night (and sky pixel); returns the files.

    Parameters
    ----------
    diasources : pandas.DataFrame
        DIASources with ``diaSourceId``, ``visit`` and ``midpointMjdTai`` (TAI).
    folder : str or Path
        Dataset folder, created if missing. The nights written replace the same nights'
        partitions already there; other nights are left alone.
    visits : pandas.DataFrame, optional
        Visit table (``observationId``, ``fieldRA``, ``fieldDec``); needed with ``sky_nside``.
    sky_nside : int, optional
        HEALPix resolution of the sky partitions (a power of two; 8 gives 768 pixels of 54 deg²).

    Every file is written to a temporary name and renamed, so a reader never sees half a file.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"the dataset folder {folder} is a file; give a folder")
    missing = [c for c in ("diaSourceId", "visit", "midpointMjdTai") if c not in diasources]
    if missing:
        raise InputError(f"DIASources lack columns {missing} needed to partition them")
    table = diasources.sort_values(["visit", "diaSourceId"], kind="stable", ignore_index=True)
    nights = night_of(table["midpointMjdTai"].to_numpy(np.float64))
    pixels = None
    if sky_nside is not None:
        check_sky_nside(sky_nside)
        if visits is None:
            raise InputError("partitioning by sky pixel needs the visit table (fieldRA, fieldDec)")
        where = visits.set_index("observationId")[["fieldRA", "fieldDec"]].reindex(
            table["visit"].to_numpy())
        lost = where["fieldRA"].isna().to_numpy()
        if lost.any():
            raise InputError(f"DIASources of visit {table['visit'].to_numpy()[lost][0]} have no "
                             "row in the visit table")
        pixels = hp.ang2pix(sky_nside, where["fieldRA"].to_numpy(), where["fieldDec"].to_numpy(),
                            nest=True, lonlat=True)
    written = []
    for night in np.unique(nights):
        night_folder = folder / f"night={night}"
        for old in night_folder.rglob("*.parquet") if night_folder.exists() else []:
            old.unlink()
        in_night = nights == night
        groups = ([(night_folder, in_night)] if pixels is None else
                  [(night_folder / f"pixel={p}", in_night & (pixels == p))
                   for p in np.unique(pixels[in_night])])
        for where, rows in groups:
            where.mkdir(parents=True, exist_ok=True)
            written.append(write_table_atomic(table[rows], where / PART_NAME,
                                              row_group_size=ROW_GROUP_ROWS))
    return written


def read_diasource_dataset(folder, nights=None, visits=None, columns=None) -> pd.DataFrame:
    """DIASources of a dataset written by :func:`write_diasource_dataset`, read lazily.

    Parameters
    ----------
    folder : str or Path
        The dataset folder.
    nights : iterable of int, optional
        Only these nights (MJD of their noon); only their folders are opened.
    visits : iterable of int, optional
        Only these visits; row groups of other visits are skipped unread.
    columns : list of str, optional
        Only these columns.

    Returns
    -------
    pandas.DataFrame
        Rows sorted by ``(visit, diaSourceId)``, without the partition columns.
    """
    folder = Path(folder)
    if not is_diasource_dataset(folder):
        raise InputError(f"{folder} is not a DIASource dataset (no night=N folders in it)")
    nights = None if nights is None else [int(n) for n in nights]
    chosen = sorted(folder.glob("night=*")) if nights is None else [
        folder / f"night={n}" for n in nights]
    files = sorted(str(f) for night in chosen for f in night.rglob("*.parquet"))
    if not files:
        raise InputError(f"the DIASource dataset {folder} holds no night "
                         f"{', '.join(str(n) for n in nights or [])}")
    # Opened from the night folders chosen (their names give the partition columns).
    dataset = ds.dataset(files, format="parquet", partitioning="hive",
                         partition_base_dir=str(folder))
    stored = [c for c in dataset.schema.names if c not in ("night", "pixel")]
    unknown = sorted(set(columns or ()) - set(stored))
    if unknown:
        raise InputError(f"the DIASource dataset {folder} has no columns {unknown}")
    condition = None
    if visits is not None:
        condition = ds.field("visit").isin(np.asarray(list(visits), dtype=np.int64))
    frame = dataset.to_table(columns=stored if columns is None else list(columns),
                             filter=condition).to_pandas()
    if "visit" in frame and "diaSourceId" in frame:
        frame = frame.sort_values(["visit", "diaSourceId"], kind="stable", ignore_index=True)
    return frame
