"""Orbit catalogues: MPCORB, Sorcha, CSV and Parquet files read into one declared table.

Schema of the table :func:`read_orbits` returns and :func:`validate_orbits` checks (one orbit
format per table; columns in this order, rows in file order, a fresh ``RangeIndex``):

==================  =======  =====================================================================
column              dtype    meaning
==================  =======  =====================================================================
``object_id``       string   identifier: the unpacked MPC designation (``'433'``, ``'2016 AB'``)
                             for MPCORB, the file's ``ObjID`` / ``object_id`` otherwise
``ssObjectId``      int64    Rubin's id, :func:`ephemerides.designations.ss_object_id`
``format``          string   ``KEP``, ``COM``, ``CART`` (heliocentric) or ``BKEP``, ``BCOM``,
                             ``BCART`` (barycentric); the same on every row
6 element columns   float64  depend on ``format``, see below
``epoch_mjd_tdb``   float64  osculating epoch, MJD in TDB (days)
``H``               float64  absolute magnitude (mag); NaN when the file has none
``G``               float64  HG slope parameter; 0.15 (:data:`DEFAULT_G`) when the file has none
==================  =======  =====================================================================

Element columns, ecliptic and mean equinox of J2000 as the MPC and Sorcha give them, centred on
the Sun (KEP, COM, CART) or the solar-system barycentre (BKEP, BCOM, BCART):

- KEP, BKEP: ``a_au`` (semi-major axis, AU; negative for hyperbolic orbits), ``e``,
  ``inc_deg``, ``node_deg``, ``argperi_deg``, ``mean_anomaly_deg`` (degrees);
- COM, BCOM: ``q_au`` (perihelion distance, AU), ``e``, ``inc_deg``, ``node_deg``,
  ``argperi_deg``, ``tp_mjd_tdb`` (time of perihelion, MJD TDB);
- CART, BCART: ``x_au``, ``y_au``, ``z_au`` (AU), ``vx_au_per_day``, ``vy_au_per_day``,
  ``vz_au_per_day`` (AU/day).

Allowed values (declared per column in :data:`ephemerides.schemas.ORBITS`, checked by
:func:`validate_orbits`): every element, the epoch and G finite; ``e >= 0``;
``0 <= inc_deg <= 180``; COM ``q_au > 0``; and between columns, KEP ``a_au > 0`` when
``e < 1``, ``a_au < 0`` when ``e > 1``, and ``e == 1`` not at all (a parabola has no finite
``a``: use COM).

Readers (``format=`` in :data:`FILE_FORMATS`, or detected from the content):

- ``"mpcorb"``: the MPC's fixed-width MPCORB.DAT (columns 1-7 packed designation, 9-13 H,
  15-19 G, 21-25 packed epoch in TT, 27-35 mean anomaly, 38-46 argument of perihelion, 49-57
  node, 60-68 inclination, 71-79 e, 93-103 a), optionally gzipped, with or without its text
  header (everything up to a line of dashes is skipped). Format KEP; epochs converted TT -> TDB.
- ``"sorcha"``: Sorcha orbit files, comma or whitespace (space or tab) separated, with a header
  ``ObjID FORMAT`` + ``a e inc node argPeri ma`` (KEP/BKEP), ``q e inc node argPeri
  t_p_MJD_TDB`` (COM/BCOM) or ``x y z xdot ydot zdot`` (CART/BCART) + ``epochMJD_TDB``;
  optional ``H`` and ``G``.
- ``"csv"`` and ``"parquet"``: this schema's own column names; ``ssObjectId``, ``H`` and ``G``
  may be absent (computed / NaN / 0.15).

Columns a file has beyond these are ignored. Blank lines are skipped everywhere.
"""

import csv
import gzip
import logging
import re
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from ephemerides.designations import (
    ss_object_ids,
    ss_object_ids_from_packed,
    unpack_designation,
    unpack_packed_epoch,
)
from ephemerides.errors import InputError
from ephemerides.schemas import ORBIT_ELEMENTS, ORBITS
from ephemerides.tablefiles import read_table_file
from ephemerides.timescales import convert_mjd

logger = logging.getLogger(__name__)

FILE_FORMATS = ("mpcorb", "sorcha", "csv", "parquet")
ORBIT_FORMATS = ("KEP", "COM", "CART", "BKEP", "BCOM", "BCART")
DEFAULT_G = 0.15

ELEMENT_COLUMNS = {
    kind: tuple(column.name for column in columns) for kind, columns in ORBIT_ELEMENTS.items()
}

# Sorcha's column names -> ours.
SORCHA_COLUMNS = {
    "ObjID": "object_id",
    "FORMAT": "format",
    "a": "a_au",
    "q": "q_au",
    "e": "e",
    "inc": "inc_deg",
    "node": "node_deg",
    "argPeri": "argperi_deg",
    "ma": "mean_anomaly_deg",
    "t_p_MJD_TDB": "tp_mjd_tdb",
    "x": "x_au",
    "y": "y_au",
    "z": "z_au",
    "xdot": "vx_au_per_day",
    "ydot": "vy_au_per_day",
    "zdot": "vz_au_per_day",
    "epochMJD_TDB": "epoch_mjd_tdb",
    "H": "H",
    "G": "G",
}

# MPCORB fields: name -> (first, last) 1-based inclusive columns, from the MPC's "Export Format
# for Minor-Planet Orbits".
_MPCORB_FIELDS = {
    "designation": (1, 7),
    "H": (9, 13),
    "G": (15, 19),
    "epoch": (21, 25),
    "mean_anomaly_deg": (27, 35),
    "argperi_deg": (38, 46),
    "node_deg": (49, 57),
    "inc_deg": (60, 68),
    "e": (71, 79),
    "a_au": (93, 103),
}
_MPCORB_WIDTH = 103
# 1-based columns between those fields, blank in every MPCORB record: a character there means
# the fields are shifted.
_MPCORB_BLANK_COLUMNS = (8, 14, 20, 26, 36, 37, 47, 48, 58, 59, 69, 70, 80, 92)
_RE_MPCORB_RECORD = re.compile(r"^[ -~]{7} [ -~]{5} [ -~]{5} [IJKL]\d\d[1-9A-C][1-9A-V] ")
_HEADER_SEARCH_LINES = 1000
_MAX_LISTED = 5


class OrbitFormatError(InputError):
    """An orbit file or table that does not follow its format or the orbit schema.

    Attributes
    ----------
    issues : list of dict
        One dict per problem: ``line`` (1-based line in a text file, else None), ``row``
        (0-based data row), ``column`` and ``reason``.
    """

    def __init__(self, message: str, issues=()):
        super().__init__(message)
        self.issues = list(issues)


def check_unique_object_ids(orbits: pd.DataFrame, hint: str = "") -> None:
    """Raise ValueError naming the first object_id that has more than one orbit row."""
    repeated = orbits["object_id"].duplicated()
    if repeated.any():
        first = orbits.loc[repeated, "object_id"].iloc[0]
        raise InputError(f"orbits has more than one row for object_id {first!r}{hint}")


def orbit_columns(orbit_format: str) -> list[str]:
    """Column names, in order, of an orbit table holding ``orbit_format`` orbits."""
    if orbit_format not in ELEMENT_COLUMNS:
        raise InputError(f"orbit format {orbit_format!r} is not one of {ORBIT_FORMATS}")
    return [column.name for column in ORBITS[orbit_format].columns]


def _issue(row: int, column: str, reason: str) -> dict:
    return {"line": None, "row": int(row), "column": column, "reason": reason}


def _where(issue: dict, source) -> str:
    place = f"line {issue['line']}" if issue["line"] is not None else f"row {issue['row']}"
    return f"{source}, {place}" if source is not None else place


def _describe(issues: list, source, what: str) -> str:
    shown = [
        f"  {_where(i, source)}, column {i['column']}: {i['reason']}" for i in issues[:_MAX_LISTED]
    ]
    more = len(issues) - _MAX_LISTED
    tail = [f"  ... and {more} more"] if more > 0 else []
    hint = "; pass errors='skip' to drop such rows" if what == "read" else ""
    return "\n".join([f"{len(issues)} invalid orbit value(s){hint}:", *shown, *tail])


def _to_int64(values: np.ndarray, label: str, rows_ok: np.ndarray, issues: list):
    """int64 values and a mask of those present, from integers or text (blank = absent)."""
    if values.dtype.kind in "iu":
        return values.astype(np.int64), np.ones(values.size, dtype=bool)
    out = np.zeros(values.size, dtype=np.int64)
    present = np.zeros(values.size, dtype=bool)
    for row, value in enumerate(values):
        text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
        if not text.strip():
            continue
        try:
            out[row] = int(text.strip())
            present[row] = True
        except (ValueError, OverflowError):
            if rows_ok[row]:
                issues.append(_issue(row, label, f"{text.strip()!r} is not an integer"))
    return out, present


def _to_float(values: np.ndarray, label: str, rows_ok: np.ndarray, issues: list) -> np.ndarray:
    """float64 from numbers or text; blank text gives NaN, other unparsable text an issue."""
    if values.dtype.kind in "fiub":
        return values.astype(np.float64)
    text = pd.Series(values, dtype=object).fillna("").astype(str).str.strip()
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(numbers) & (text != "").to_numpy() & rows_ok
    for row in np.flatnonzero(bad):
        issues.append(_issue(row, label, f"{text.iloc[row]!r} is not a number"))
    return numbers


# ---------------------------------------------------------------------------------------------
# Reading files


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise OrbitFormatError(f"{path}: not a readable gzip file ({error})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _is_dash_line(line: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= 10 and set(stripped) == {"-"}


def _detect_format(path: Path, text: str) -> str:
    lines = text.split("\n", _HEADER_SEARCH_LINES)[:_HEADER_SEARCH_LINES]
    if any(_is_dash_line(line) for line in lines):
        return "mpcorb"
    first = next((line.rstrip("\r") for line in lines if line.strip()), None)
    if first is None:
        raise OrbitFormatError(f"{path} is empty: no header and no orbit records")
    tokens = [t.strip() for t in re.split(r"[,\s]+", first.strip())]
    if tokens[0] == "ObjID":
        return "sorcha"
    if "object_id" in tokens:
        return "csv"
    if _RE_MPCORB_RECORD.match(first):
        return "mpcorb"
    raise OrbitFormatError(
        f"cannot tell the orbit format of {path}: its first line {first[:80]!r} is neither an "
        "MPCORB record, a Sorcha header (starting with 'ObjID'), nor a CSV header with "
        f"'object_id'; pass format= one of {FILE_FORMATS}"
    )


def _parse_mpcorb(text: str, source: str):
    """Columns (dict of arrays), 1-based line numbers and issues of an MPCORB text."""
    all_lines = text.split("\n")
    start = next(
        (i + 1 for i, line in enumerate(all_lines[:_HEADER_SEARCH_LINES]) if _is_dash_line(line)), 0
    )
    numbered = [
        (i + 1, line.rstrip("\r"))
        for i, line in enumerate(all_lines[start:], start)
        if line.strip()
    ]
    lines = np.array([n for n, _ in numbered], dtype=np.int64)
    records = [line for _, line in numbered]
    issues = []
    widths = np.array([len(r) for r in records], dtype=np.int64)
    for row in np.flatnonzero(widths < _MPCORB_WIDTH):
        issues.append(
            _issue(
                row,
                "record",
                f"line has {widths[row]} characters; an MPCORB record "
                f"needs at least {_MPCORB_WIDTH} (columns 1-103): {records[row]!r}",
            )
        )
    # Fixed-width slicing on a (rows, 103) array of code points.
    padded = np.array(
        [r[:_MPCORB_WIDTH].ljust(_MPCORB_WIDTH) for r in records], dtype=f"<U{_MPCORB_WIDTH}"
    )
    codes = padded.view(np.uint32).reshape(len(records), _MPCORB_WIDTH)
    rows_ok = widths >= _MPCORB_WIDTH
    separators = np.array(_MPCORB_BLANK_COLUMNS) - 1
    shifted = rows_ok & (codes[:, separators] != ord(" ")).any(axis=1)
    for row in np.flatnonzero(shifted):
        columns = [c for c in _MPCORB_BLANK_COLUMNS if records[row][c - 1] != " "]
        issues.append(
            _issue(
                row,
                "record",
                f"characters in column(s) {columns}, which separate "
                f"the fields, so the fields are misaligned: {records[row][:103]!r}",
            )
        )
    rows_ok &= ~shifted

    def field(name):
        first, last = _MPCORB_FIELDS[name]
        width = last - first + 1
        cut = np.ascontiguousarray(codes[:, first - 1 : last])
        return np.char.strip(cut.view(f"<U{width}").ravel())

    def label(name):
        first, last = _MPCORB_FIELDS[name]
        return f"{name} (columns {first}-{last})"

    columns = {}
    for name in ("mean_anomaly_deg", "argperi_deg", "node_deg", "inc_deg", "e", "a_au", "H", "G"):
        columns[name] = _to_float(field(name), label(name), rows_ok, issues)

    packed = field("designation")
    object_id = np.empty(len(records), dtype=object)
    ids = np.zeros(len(records), dtype=np.int64)
    for row in np.flatnonzero(rows_ok):
        try:
            object_id[row] = unpack_designation(packed[row])
        except ValueError as error:
            issues.append(_issue(row, label("designation"), str(error)))
    good = np.array([isinstance(o, str) for o in object_id], dtype=bool)
    ids[good] = ss_object_ids_from_packed(packed[good])
    object_id[~good] = ""

    epochs, inverse = np.unique(field("epoch"), return_inverse=True)
    epoch_tt = np.full(epochs.size, np.nan)
    for k, value in enumerate(epochs):
        try:
            epoch_tt[k] = unpack_packed_epoch(value)
        except ValueError as error:
            for row in np.flatnonzero((inverse == k) & rows_ok):
                issues.append(_issue(row, label("epoch"), str(error)))
    finite = np.isfinite(epoch_tt)
    epoch_tdb = np.full(epochs.size, np.nan)
    if finite.any():
        epoch_tdb[finite] = convert_mjd(epoch_tt[finite], "tt", "tdb")
    columns.update(
        object_id=object_id, ssObjectId=ids, format="KEP", epoch_mjd_tdb=epoch_tdb[inverse]
    )
    notes = {
        name: "columns {}-{}".format(*_MPCORB_FIELDS[name])
        for name in columns
        if name in _MPCORB_FIELDS
    }
    notes["epoch_mjd_tdb"] = "columns {}-{}".format(*_MPCORB_FIELDS["epoch"])
    return "KEP", columns, lines, issues, notes


def _split_delimited(text: str, source: str):
    """Header, rows of strings, 1-based line numbers and issues of a delimited text file."""
    numbered = [
        (i + 1, line.rstrip("\r")) for i, line in enumerate(text.split("\n")) if line.strip()
    ]
    if not numbered:
        raise OrbitFormatError(f"{source} is empty: no header and no orbit records")
    header_line = numbered[0][1]
    body = numbered[1:]
    if "," in header_line:
        header = [name.strip() for name in next(csv.reader([header_line]))]
        rows = [
            [field.strip() for field in fields] for fields in csv.reader([line for _, line in body])
        ]
        if len(rows) != len(body):
            raise OrbitFormatError(
                f"{source}: a quoted field spans several lines; orbit files "
                "need one record per line"
            )
    else:
        header = header_line.split()
        rows = [line.split() for _, line in body]
    issues = []
    for row, fields in enumerate(rows):
        if len(fields) != len(header):
            issues.append(
                _issue(
                    row,
                    "record",
                    f"line has {len(fields)} fields but the header "
                    f"has {len(header)}: {body[row][1]!r}",
                )
            )
            rows[row] = [""] * len(header)
    lines = np.array([n for n, _ in body], dtype=np.int64)
    table = np.array(rows, dtype=object).reshape(len(rows), len(header))
    return header, table, lines, issues


def _table_format(
    formats: np.ndarray, rows_ok: np.ndarray, issues: list, label: str, lines, source, present: set
) -> str:
    """The one orbit format of a table; raises when it mixes formats."""
    text = pd.Series(formats, dtype=object).astype(str).str.strip().str.upper().to_numpy()
    known = np.isin(text, ORBIT_FORMATS)
    for row in np.flatnonzero(~known & rows_ok):
        issues.append(_issue(row, label, f"format {formats[row]!r} is not one of {ORBIT_FORMATS}"))
    kinds = list(dict.fromkeys(text[known & rows_ok]))
    if len(kinds) > 1:
        firsts = []
        for kind in kinds:
            row = int(np.flatnonzero(text == kind)[0])
            place = f"line {lines[row]}" if lines is not None else f"row {row}"
            firsts.append(f"{kind} (first at {place})")
        raise OrbitFormatError(
            f"{source} mixes orbit formats {', '.join(firsts)}; a table holds one format: "
            "split the file by format"
        )
    if kinds:
        return kinds[0]
    # No usable row: take the format the element columns imply (heliocentric).
    for kind in ("KEP", "COM", "CART"):
        if set(ELEMENT_COLUMNS[kind]) <= present:
            return kind
    return "KEP"


def _assemble_columns(raw: dict, sorcha: bool, lines, source: str, issues: list):
    """Our columns from a file's named columns (Sorcha's names or ours) of text or numbers."""
    n = len(next(iter(raw.values()))) if raw else 0
    rows_ok = np.ones(n, dtype=bool)
    for issue in issues:
        rows_ok[issue["row"]] = False
    names = SORCHA_COLUMNS if sorcha else {c: c for c in raw}
    labels = {ours: theirs for theirs, ours in names.items() if theirs in raw}
    required = ("ObjID", "FORMAT") if sorcha else ("object_id", "format")
    missing = [c for c in required if c not in raw]
    if missing:
        kind = "Sorcha orbit files" if sorcha else "orbit CSV and Parquet files"
        raise OrbitFormatError(
            f"{source} has no column(s) {missing}; {kind} need {list(required)} and the "
            f"element columns. Columns found: {list(raw)}"
        )
    orbit_format = _table_format(
        raw[labels["format"]], rows_ok, issues, labels["format"], lines, source, set(labels)
    )
    wanted = (*ELEMENT_COLUMNS[orbit_format], "epoch_mjd_tdb")
    absent = [c for c in wanted if c not in labels]
    if absent:
        theirs = {ours: theirs for theirs, ours in SORCHA_COLUMNS.items()}
        need = [theirs[c] if sorcha else c for c in wanted]
        lacking = [theirs[c] if sorcha else c for c in absent]
        raise OrbitFormatError(
            f"{source}: {orbit_format} orbits need columns {need}; missing {lacking}. "
            f"Columns found: {list(raw)}"
        )
    columns = {c: _to_float(np.asarray(raw[labels[c]]), labels[c], rows_ok, issues) for c in wanted}
    columns["H"] = (
        _to_float(np.asarray(raw[labels["H"]]), labels["H"], rows_ok, issues)
        if "H" in labels
        else np.full(n, np.nan)
    )
    columns["G"] = (
        _to_float(np.asarray(raw[labels["G"]]), labels["G"], rows_ok, issues)
        if "G" in labels
        else np.full(n, np.nan)
    )
    object_id = pd.Series(raw[labels["object_id"]], dtype=object).fillna("").astype(str).str.strip()
    for row in np.flatnonzero((object_id == "").to_numpy() & rows_ok):
        issues.append(_issue(row, labels["object_id"], "object identifier is missing"))
    columns["object_id"] = object_id.to_numpy(dtype=object)
    usable = np.ones(n, dtype=bool)
    for issue in issues:
        usable[issue["row"]] = False
    ids = np.zeros(n, dtype=np.int64)
    if "ssObjectId" in labels:
        given, have = _to_int64(np.asarray(raw["ssObjectId"]), "ssObjectId", rows_ok, issues)
        ids[have] = given[have]
        usable &= ~have
    ids[usable] = ss_object_ids(columns["object_id"][usable])
    columns["ssObjectId"] = ids
    columns["format"] = orbit_format
    notes = {ours: f"file column {theirs}" for ours, theirs in labels.items() if ours != theirs}
    return orbit_format, columns, notes


def _parse_delimited(text: str, source: str, naming: str):
    header, table, lines, issues = _split_delimited(text, source)
    if naming == "csv" and "ObjID" in header:
        raise OrbitFormatError(
            f"{source} has Sorcha column names (ObjID, FORMAT, ...); read it with format='sorcha'"
        )
    raw = {name: table[:, k] for k, name in enumerate(header)}
    orbit_format, columns, notes = _assemble_columns(raw, naming == "sorcha", lines, source, issues)
    return orbit_format, columns, lines, issues, notes


def _parse_parquet(path: Path, source: str):
    frame = read_table_file(path, "orbit file", kind="parquet")
    raw = {str(name): frame[name].to_numpy() for name in frame.columns}
    if "ObjID" in raw and "object_id" not in raw:
        raise OrbitFormatError(
            f"{source} has Sorcha column names; Parquet orbit files use this "
            "toolkit's schema (object_id, format, a_au, ...)"
        )
    issues = []
    orbit_format, columns, notes = _assemble_columns(raw, False, None, source, issues)
    return orbit_format, columns, None, issues, notes


# ---------------------------------------------------------------------------------------------
# Validation


def _violations(frame: pd.DataFrame, orbit_format: str) -> list:
    """Issues (row positions, our column names) for values outside the allowed ranges: each
    column's own from :data:`ephemerides.schemas.ORBITS`, then the rules between columns."""
    found = []

    def flag(mask, column, rule):
        values = frame[column].to_numpy()
        for row in np.flatnonzero(mask):
            value = float(values[row])
            if np.isnan(value):
                reason = f"value is missing (NaN); allowed: {rule}"
            elif np.isinf(value):
                reason = f"value {value} is not finite; allowed: {rule}"
            else:
                reason = f"value {value!r} is outside the allowed range: {rule}"
            found.append(_issue(row, column, reason))

    numbers = {}
    for column in ORBITS[orbit_format].columns:
        if column.dtype != "float64" or column.nullable:
            continue
        values = numbers[column.name] = frame[column.name].to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            above = values >= column.high if column.high_open else values > column.high
            below = values <= column.low if column.low_open else values < column.low
        flag(~np.isfinite(values) | above | below, column.name, column.allowed())
    if orbit_format.endswith("KEP"):
        e, a = numbers["e"], numbers["a_au"]
        with np.errstate(invalid="ignore"):
            flag(
                e == 1,
                "e",
                "e != 1 for KEP orbits (a parabola has no finite a_au; give it as COM with q_au)",
            )
            flag((e >= 0) & (e < 1) & (a <= 0), "a_au", "a_au > 0 when e < 1")
            flag((e > 1) & (a >= 0), "a_au", "a_au < 0 when e > 1 (hyperbolic orbit)")
    return sorted(found, key=lambda issue: issue["row"])


def _schema_format(orbits) -> str:
    if not isinstance(orbits, pd.DataFrame):
        raise TypeError(f"orbits must be a pandas DataFrame; got {type(orbits).__name__}")
    if "format" not in orbits.columns:
        raise OrbitFormatError(f"orbit table has no 'format' column; columns: {list(orbits)}")
    kinds = list(pd.unique(orbits["format"].astype(str)))
    unknown = [k for k in kinds if k not in ORBIT_FORMATS]
    if unknown:
        raise OrbitFormatError(
            f"orbit table has format value(s) {unknown}; allowed: {ORBIT_FORMATS}"
        )
    if len(kinds) > 1:
        raise OrbitFormatError(f"orbit table mixes formats {kinds}; a table holds one format")
    orbit_format = kinds[0] if kinds else "KEP"
    missing = [c for c in orbit_columns(orbit_format) if c not in orbits.columns]
    if missing:
        raise OrbitFormatError(
            f"{orbit_format} orbit table lacks column(s) {missing}; needs "
            f"{orbit_columns(orbit_format)}"
        )
    if orbits["ssObjectId"].dtype.kind not in "iu":
        raise OrbitFormatError(
            f"orbit column 'ssObjectId' has dtype {orbits['ssObjectId'].dtype}; it must be int64"
        )
    for column in orbit_columns(orbit_format)[3:]:
        if orbits[column].dtype.kind not in "fiu":
            raise OrbitFormatError(
                f"orbit column {column!r} has dtype {orbits[column].dtype}; "
                "it must be numeric (float64)"
            )
    return orbit_format


def validate_orbits(orbits: pd.DataFrame, source=None) -> None:
    """Check an orbit table against the schema and the allowed ranges of its values.

    Parameters
    ----------
    orbits : pandas.DataFrame
        Table with the columns of :func:`orbit_columns` for its (single) ``format``.
    source : str or path, optional
        Where the table came from, named in the error message.

    Raises
    ------
    OrbitFormatError
        One error for the whole table: missing columns, mixed formats, or values outside the
        allowed ranges (listing the first few, each with its 0-based row, column, value and the
        allowed range; all are in ``error.issues``).
    """
    orbit_format = _schema_format(orbits)
    issues = _violations(orbits, orbit_format)
    if issues:
        raise OrbitFormatError(_describe(issues, source, "validate"), issues)


def read_orbits(path, format: str | None = None, errors: str = "raise") -> pd.DataFrame:
    """Read an orbit catalogue into the toolkit's orbit table (schema in the module docstring).

    Parameters
    ----------
    path : str or pathlib.Path
        MPCORB (plain or gzipped), Sorcha, CSV or Parquet file.
    format : {"mpcorb", "sorcha", "csv", "parquet"}, optional
        File format; detected from the content (Parquet magic bytes or ``.parquet`` suffix,
        MPCORB record layout or its dashed header line, Sorcha's ``ObjID`` header, our
        ``object_id`` header) when omitted.
    errors : {"raise", "skip"}
        What to do with malformed lines (wrong width or field count, non-numeric field, bad
        packed designation or epoch) and rows whose values fail :func:`validate_orbits`:
        ``"raise"`` an :class:`OrbitFormatError` naming file, line (or row), column and the
        offending text; or ``"skip"`` them, log one warning, and list them in
        ``df.attrs["skipped"]`` (dicts with ``line``, ``row``, ``column``, ``reason``).

    Returns
    -------
    pandas.DataFrame
        One orbit per row, in file order. ``df.attrs["source"]`` is the path read and
        ``df.attrs["skipped"]`` the (possibly empty) list of skipped problems.

    Raises
    ------
    OrbitFormatError
        On malformed or invalid rows (with ``errors="raise"``), and always on problems with the
        whole file: unknown format, missing columns, several orbit formats in one file.
    FileNotFoundError
        When ``path`` does not exist.
    """
    if errors not in ("raise", "skip"):
        raise InputError(f"errors={errors!r}; use 'raise' or 'skip'")
    if format is not None and format not in FILE_FORMATS:
        raise InputError(
            f"format={format!r} is not a file format we read; use one of "
            f"{FILE_FORMATS} or None to detect it"
        )
    path = Path(path)
    if path.is_dir():
        raise InputError(f"orbit file {path} is a folder; give the catalogue's file")
    if not path.is_file():
        raise FileNotFoundError(f"orbit file {path} does not exist")
    source = str(path)
    with path.open("rb") as stream:
        is_parquet = path.suffix.lower() in (".parquet", ".pq") or stream.read(4) == b"PAR1"
    if format == "parquet" or (format is None and is_parquet):
        orbit_format, columns, lines, issues, notes = _parse_parquet(path, source)
    else:
        text = _read_text(path)
        chosen = format or _detect_format(path, text)
        if chosen == "mpcorb":
            orbit_format, columns, lines, issues, notes = _parse_mpcorb(text, source)
        else:
            orbit_format, columns, lines, issues, notes = _parse_delimited(text, source, chosen)

    n = len(columns["object_id"])
    names = orbit_columns(orbit_format)
    frame = pd.DataFrame({c: columns[c] for c in names}, index=pd.RangeIndex(n))
    frame["G"] = frame["G"].fillna(DEFAULT_G)
    frame["ssObjectId"] = frame["ssObjectId"].astype(np.int64)
    frame = frame.astype({c: np.float64 for c in names[3:]})

    def locate(found):
        for issue in found:
            if lines is not None:
                issue["line"] = int(lines[issue["row"]])
            if issue["column"] in notes:
                issue["column"] = f"{issue['column']} ({notes[issue['column']]})"
        return sorted(found, key=lambda issue: issue["row"])

    issues = locate(issues)
    if issues and errors == "raise":
        raise OrbitFormatError(_describe(issues, source, "read"), issues)
    bad = np.zeros(n, dtype=bool)
    bad[[i["row"] for i in issues]] = True
    violations = _violations(frame[~bad].reset_index(drop=True), orbit_format)
    kept = np.flatnonzero(~bad)
    for issue in violations:
        issue["row"] = int(kept[issue["row"]])
    violations = locate(violations)
    if violations and errors == "raise":
        raise OrbitFormatError(_describe(violations, source, "read"), violations)
    skipped = sorted(issues + violations, key=lambda issue: issue["row"])
    bad[[i["row"] for i in violations]] = True
    frame = frame[~bad].reset_index(drop=True)
    frame.attrs["source"] = source
    frame.attrs["skipped"] = [
        {k: i[k] for k in ("line", "row", "column", "reason")} for i in skipped
    ]
    if skipped:
        first = skipped[0]
        logger.warning(
            "%s: skipped %d orbit row(s) with %d problem(s), listed in "
            "df.attrs['skipped']; the first: %s, column %s: %s",
            source,
            int(bad.sum()),
            len(skipped),
            _where(first, None),
            first["column"],
            first["reason"],
        )
    return frame
