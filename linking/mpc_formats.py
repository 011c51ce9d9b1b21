"""MPC astrometry formats: the 80-column observation record and ADES (PSV and XML).

The 80-column optical record
----------------------------
One observation per line, columns numbered from 1 as in the MPC's "Format for optical
astrometric observations of comets, minor planets and natural satellites":

========  ==================================================================================
columns   content
========  ==================================================================================
1-5       minor planets: packed number (``08467``, ``A0345``, ``~0000``), blank if unnumbered;
          comets: 1-4 periodic-comet number and 5 the orbit type (``0001P``, ``    C``)
6-12      packed provisional designation (``K21E35S``, ``_QC0000``, ``PLS2040``; comets use
          columns 5-12, ``CJ95O010``) or an observer's temporary designation (1-7 ASCII
          letters and digits, left-justified)
13        discovery asterisk ``*``
14        note 1 (publishable note or program code; read and ignored)
15        note 2, the observation type (see :data:`SUPPORTED_OBSERVATION_TYPES`)
16-32     date of the observation, **UTC**: ``YYYY MM DD.dddddd`` (0 to 6 decimals of a day,
          right-padded with blanks)
33-44     RA (J2000.0 / ICRF): ``HH MM SS.sss`` (hours, minutes, seconds of time, any number
          of decimals that fits)
45-56     Dec (J2000.0 / ICRF): ``sDD MM SS.ss`` (sign, degrees, arcminutes, arcseconds)
57-65     blank
66-70     observed magnitude (blank when not measured)
71        magnitude band
72-77     reference and program fields (ignored here)
78-80     MPC observatory code
========  ==================================================================================

Tables on the Python side follow the DiaSource conventions of :mod:`linking.detections`:
``midpointMjdTai`` (MJD, **TAI**), ``ra`` and ``dec`` (degrees), ``raErr`` and ``decErr``
(degrees, ``raErr`` already on the sky, i.e. of RA·cos Dec). Times are converted between TAI and
the formats' UTC with :func:`ephemerides.timescales.convert_mjd`; the MPC day fraction is the
fraction of the UTC calendar day, i.e. the fractional part of the MJD in UTC.

ADES PSV
--------
:func:`format_ades_psv` writes the pipe-separated form of the IAU's Astrometry Data Exchange
Standard (version 2022): a ``# version=2022`` line, then for each observatory code (sorted) an
obsContext header (``# observatory``/``! mpcCode``, ``# submitter``, ``# observers``,
``# measurers``, ``# telescope``) followed by the column-header row and one data row per
observation, with the columns of :data:`ADES_COLUMNS`: ``obsTime`` is ISO 8601 UTC with
milliseconds and a ``Z``, ``ra`` and ``dec`` decimal degrees, ``rmsRA`` (of RA·cos Dec) and
``rmsDec`` arcseconds, ``mag`` and ``rmsMag`` magnitudes.

Reading ADES
------------
:func:`read_ades` reads optical astrometry in ADES version 2017 or 2022, in either
serialisation, told apart by content: text whose first character (after blanks and a byte-order
mark) is ``<`` is XML, anything else PSV. PSV: an optional ``# version=2017|2022`` line; blocks
of obsContext lines (``#`` and ``!``, skipped), a column-header row of field names separated by
``|`` and data rows with as many fields; blanks around fields are padding and an empty field is
missing. XML: the root ``<ades version="2017|2022">`` holding ``<obsBlock>`` elements (an
``<obsContext>``, skipped, and an ``<obsData>`` of ``<optical>`` elements), or ``<optical>``
elements directly; each field is a child element. A DTD (``<!DOCTYPE``, ``<!ENTITY``) is refused,
never expanded. Fields read: ``permID``, ``provID``, ``trkSub`` (the designation, first given
wins), ``obsTime`` (ISO 8601 UTC), ``ra``, ``dec`` (degrees), ``rmsRA`` (of RA·cos Dec) and
``rmsDec`` (arcsec), ``rmsCorr``, ``mag``, ``rmsMag``, ``band``, ``stn``, ``mode``, ``astCat``;
other fields are ignored, fields may come in any order.

Designations use :mod:`ephemerides.designations` for packing and unpacking: numbered objects
and numbered comets (``'8467'``, ``'1P'``) are permanent designations, provisional designations
(``'2021 AB12'``, ``'C/1995 O1'``, ``'2040 P-L'``) are packed into the provisional field, and
anything else must be a temporary designation (``trkSub`` in ADES) of 1-7 ASCII letters and
digits, such as those :func:`temporary_designation` makes.
"""

import re
import string
import warnings
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from xml.parsers import expat

import erfa
import numpy as np
import pandas as pd

from ephemerides.designations import (
    MJD_EPOCH_ORDINAL,
    base62,
    pack_designation,
    packed_form,
    unpack_designation,
)
from ephemerides.errors import InputError
from ephemerides.timescales import MJD_RANGE, convert_mjd, quiet_erfa

__all__ = [
    "ADES_COLUMNS",
    "ADES_MODES",
    "ADES_VERSION",
    "ASTROMETRY_FORMATS",
    "KNOWN_TELESCOPES",
    "SUPPORTED_OBSERVATION_TYPES",
    "UNSUPPORTED_OBSERVATION_TYPES",
    "ades_context",
    "format_ades_psv",
    "format_mpc80",
    "read_ades",
    "read_astrometry",
    "read_mpc80",
    "temporary_designation",
]

#: Note-2 codes (column 15) of single-line optical observations that :func:`read_mpc80` reads.
SUPPORTED_OBSERVATION_TYPES = {
    " ": "unspecified (photographic by default)",
    "P": "photographic",
    "e": "encoder",
    "C": "CCD",
    "B": "CMOS",
    "T": "meridian or transit circle",
    "M": "micrometer",
    "c": "corrected-without-republication CCD",
    "E": "occultation-derived",
    "O": "offset (natural satellites)",
    "H": "Hipparcos geocentric",
    "N": "normal place",
    "n": "mini-normal place from video frames",
    "A": "B1950.0 position rotated to J2000.0",
    "D": "CCD, converted from an XML submission",
    "Z": "photographic, converted from an XML submission",
}
#: Note-2 codes that are recognised but not read: two-line records and deleted observations.
UNSUPPORTED_OBSERVATION_TYPES = {
    "S": "satellite observation (two-line record)",
    "s": "satellite observation, second line",
    "t": "satellite observation from an XML submission, second line",
    "V": "roving observer (two-line record)",
    "v": "roving observer, second line",
    "W": "roving observer from an XML submission (two-line record)",
    "w": "roving observer from an XML submission, second line",
    "R": "radar observation (two-line record)",
    "r": "radar observation, second line",
    "Q": "radar observation from an XML submission (two-line record)",
    "q": "radar observation from an XML submission, second line",
    "X": "deleted or replaced discovery observation",
    "x": "deleted or replaced observation",
}
#: Data columns of :func:`format_ades_psv`, in order.
ADES_COLUMNS = (
    "permID", "provID", "trkSub", "mode", "stn", "obsTime", "ra", "dec",
    "rmsRA", "rmsDec", "astCat", "mag", "rmsMag", "band",
)
ADES_VERSION = "2022"
#: ADES ``mode`` for each note-2 type; types not listed are written as ``UNK`` (unknown).
ADES_MODES = {"C": "CCD", "c": "CCD", "D": "CCD", "B": "CMO", " ": "PHO", "P": "PHO", "Z": "PHO",
              "e": "ENC", "T": "MER", "M": "MIC", "n": "VID", "E": "OCC"}
#: Telescopes of the observatory codes whose reports need no ``telescope`` (Rubin's Simonyi
#: Survey Telescope: an 8.4 m primary mirror and the LSST Camera's CCDs).
KNOWN_TELESCOPES = {"X05": {"name": "Simonyi Survey Telescope", "design": "Reflector",
                            "aperture": "8.4", "detector": "CCD"}}
# Telescope keys whose values are positive numbers (metres, f-number, arcsec per pixel).
_NUMERIC_TELESCOPE_KEYS = ("aperture", "fRatio", "pixelScale")
_TELESCOPE_KEYS = ("name", "design", "aperture", "detector", "fRatio", "filter", "arraySize",
                   "pixelScale")

# Half-month letters of provisional designations: A-Y without I.
_HALF_MONTH_LETTERS = "ABCDEFGHJKLMNOPQRSTUVWXY"
_MS_PER_DAY = 86_400_000
_MPC_COLUMNS = ("designation", "midpointMjdTai", "ra", "dec", "observatoryCode")
_RE_TEMPORARY = re.compile(r"^[A-Za-z0-9]{1,7}$")
_RE_DATE = re.compile(r"^(\d{4}) (\d\d) (\d\d)(\.\d{0,6})? *$")
_RE_RA = re.compile(r"^(\d\d) (\d\d) (\d\d(?:\.\d*)?) *$")
_RE_DEC = re.compile(r"^([+-])(\d\d) (\d\d) (\d\d(?:\.\d*)?) *$")
_RE_CODE = re.compile(r"^[!-~]{3}$")


# ----------------------------------------------------------------------------------------------
# Designations
# ----------------------------------------------------------------------------------------------


def temporary_designation(first_mjd_utc: float, sequence: int, prefix: str = "S") -> str:
    """A 7-character temporary designation for a new object, in provisional style.

    Parameters
    ----------
    first_mjd_utc : float
        Time of the object's first observation, MJD in UTC; its calendar date sets the year and
        half-month characters.
    sequence : int
        Running number of the object within the submitter's numbering, 0 <= sequence < 62**3
        (238328), written as three base-62 digits ``0-9A-Za-z``.
    prefix : str
        One ASCII letter other than ``I``, ``J``, ``K`` and ``L`` (which start packed
        provisional designations, so the result could be mistaken for one). Default ``"S"``.

    Returns
    -------
    str
        ``prefix`` + last two digits of the UTC year + half-month letter (``A`` = Jan 1-15,
        ``B`` = Jan 16-31, ..., ``Y`` = Dec 16-31, no ``I``) + three base-62 digits, e.g.
        ``temporary_designation(61369.0, 0) == 'S26W000'`` (2026 Nov 25). Only letters and
        digits, as the MPC requires of temporary designations.

    Raises
    ------
    ValueError
        For a bad prefix, a sequence out of range or a non-finite time.
    """
    if (not isinstance(prefix, str) or len(prefix) != 1 or prefix not in string.ascii_letters
            or prefix in "IJKL"):
        raise InputError(
            f"prefix={prefix!r}: the prefix must be exactly one ASCII letter other than I, J, K "
            "and L (those start packed provisional designations); e.g. 'S'"
        )
    if isinstance(sequence, (bool, np.bool_)) or not isinstance(sequence, (int, np.integer)):
        raise InputError(f"sequence={sequence!r}: the sequence must be an integer")
    sequence = int(sequence)
    if not 0 <= sequence < 62**3:
        raise InputError(
            f"sequence={sequence}: three base-62 digits hold 0 <= sequence < {62**3}"
        )
    mjd = float(first_mjd_utc)
    if not np.isfinite(mjd):
        raise InputError(f"first_mjd_utc={first_mjd_utc!r}: the time must be a finite MJD (UTC)")
    day = date.fromordinal(int(np.floor(mjd)) + MJD_EPOCH_ORDINAL)
    half = _HALF_MONTH_LETTERS[2 * (day.month - 1) + (day.day > 15)]
    return f"{prefix}{day.year % 100:02d}{half}{base62(sequence, 3)}"


def _classify(designation, row: int, column: str = "designation") -> tuple[str, str, str]:
    """Kind (``number``, ``provisional``, ``temporary``), packed form and readable form."""
    if isinstance(designation, (bool, np.bool_)) or not isinstance(
            designation, (str, int, np.integer)):
        raise InputError(
            f"column {column!r}, row {row}: {designation!r} is not a designation; give a number "
            "('8467'), a provisional designation ('2026 WA12') or a temporary designation of 1-7 "
            "ASCII letters and digits"
        )
    text = str(designation).strip()
    try:
        packed = pack_designation(text)
    except ValueError:
        packed = None
    if packed is not None:
        readable = unpack_designation(packed)
        return ("number" if len(packed) == 5 else "provisional"), packed, readable
    if not _RE_TEMPORARY.match(text):
        raise InputError(
            f"column {column!r}, row {row}: {designation!r} is neither an MPC designation "
            "(number '8467', provisional '2026 WA12', comet '1P' or 'C/1995 O1') nor a temporary "
            "designation of 1-7 ASCII letters and digits"
        )
    if packed_form(text) is not None:
        raise InputError(
            f"column {column!r}, row {row}: {text!r} reads as a packed MPC designation "
            f"({unpack_designation(packed_form(text))!r}); give the unpacked form, or a "
            "temporary designation that does not look packed"
        )
    return "temporary", text, text


def reportable_designation(designation) -> bool:
    """Whether :func:`format_mpc80` and :func:`format_ades_psv` can write ``designation``: an
    MPC number, provisional or comet designation, or a temporary one of 1-7 letters and
    digits that does not read as packed."""
    try:
        _classify(designation, 0)
    except InputError:
        return False
    return True


# ----------------------------------------------------------------------------------------------
# Reading the 80-column format
# ----------------------------------------------------------------------------------------------


class _LineError(ValueError):
    """A problem on one line: columns and explanation; the caller adds source and line."""


def _read_text(path_or_text, function: str = "read_mpc80",
               encoding: str = "ascii") -> tuple[str, str]:
    """Text and source name (the path, or ``<text>``) of a reader's argument; bytes that do not
    decode in ``encoding`` become U+FFFD, which the field checks then refuse."""
    if isinstance(path_or_text, Path):
        return path_or_text.read_text(encoding=encoding, errors="replace"), str(path_or_text)
    if isinstance(path_or_text, str):
        if "\n" in path_or_text:
            return path_or_text, "<text>"
        try:
            is_file = Path(path_or_text).is_file()
        except (OSError, ValueError):  # a name too long, or with a NUL: not a path
            is_file = False
        if not is_file:
            raise InputError(f"{path_or_text[:80]!r} is not a file: {function} takes a path, "
                             "or the text of the records (with newlines)")
        return Path(path_or_text).read_text(encoding=encoding, errors="replace"), path_or_text
    raise TypeError(
        f"{function} takes a path (str or pathlib.Path) or the text of the records (a str with "
        f"newlines); got {type(path_or_text).__name__}"
    )


def _parse_designation(line: str) -> str:
    number, provisional = line[0:5], line[5:12]
    if number.strip() and not number[:4].isspace():
        try:
            return unpack_designation(number)
        except ValueError:
            raise _LineError(
                f"columns 1-5 {number!r}: expected a packed minor-planet number ('08467', "
                "'A0345', '~0000') or a numbered comet ('0001P')"
            ) from None
    if number.strip():  # comet: orbit type in column 5, provisional designation in 6-12
        try:
            return unpack_designation(line[4:12])
        except ValueError:
            raise _LineError(
                f"columns 5-12 {line[4:12]!r}: expected a comet's orbit type and packed "
                "provisional designation ('CJ95O010')"
            ) from None
    text = provisional.strip()
    if not text:
        raise _LineError(
            "columns 1-12 are blank: every observation needs a number (columns 1-5) or a "
            "provisional or temporary designation (columns 6-12)"
        )
    if len(text) == 7:
        try:
            return unpack_designation(text)
        except ValueError:
            pass
    if not _RE_TEMPORARY.match(text):
        raise _LineError(
            f"columns 6-12 {provisional!r}: expected a packed provisional designation "
            "('K21E35S') or a temporary designation of 1-7 ASCII letters and digits"
        )
    return text


def _parse_date(field: str) -> float:
    m = _RE_DATE.match(field)
    if m is None:
        raise _LineError(
            f"columns 16-32 {field!r}: expected the UTC date as 'YYYY MM DD.dddddd' (0-6 "
            "decimals of a day)"
        )
    year, month, day, fraction = m.groups()
    try:
        ordinal = date(int(year), int(month), int(day)).toordinal()
    except ValueError as error:
        raise _LineError(f"columns 16-32 {field!r}: not a calendar date ({error})") from None
    return float(ordinal - MJD_EPOCH_ORDINAL) + float("0" + (fraction or ""))


def _parse_ra(field: str) -> float:
    m = _RE_RA.match(field)
    if m is None:
        raise _LineError(f"columns 33-44 {field!r}: expected RA as 'HH MM SS.sss'")
    hours, minutes, seconds = int(m.group(1)), int(m.group(2)), float(m.group(3))
    if hours >= 24 or minutes >= 60 or seconds >= 60.0:
        raise _LineError(
            f"columns 33-44 {field!r}: RA needs hours 0-23, minutes 0-59 and seconds below 60"
        )
    return (hours + minutes / 60.0 + seconds / 3600.0) * 15.0


def _parse_dec(field: str) -> float:
    m = _RE_DEC.match(field)
    if m is None:
        raise _LineError(f"columns 45-56 {field!r}: expected Dec as 'sDD MM SS.ss' (s = + or -)")
    sign, degrees, minutes, seconds = m.group(1), int(m.group(2)), int(m.group(3)), float(
        m.group(4))
    value = degrees + minutes / 60.0 + seconds / 3600.0
    if minutes >= 60 or seconds >= 60.0 or value > 90.0:
        raise _LineError(
            f"columns 45-56 {field!r}: Dec needs arcminutes 0-59, arcseconds below 60 and "
            "|Dec| <= 90 degrees"
        )
    return -value if sign == "-" else value


def _parse_mag(field: str) -> float:
    if not field.strip():
        return np.nan
    try:
        value = float(field)
    except ValueError:
        value = np.nan
    if not np.isfinite(value):
        raise _LineError(f"columns 66-70 {field!r}: expected a magnitude such as '17.79' or blank")
    return value


def _parse_line(line: str) -> dict:
    code = line[77:80]
    if not _RE_CODE.match(code):
        raise _LineError(
            f"columns 78-80 {code!r}: expected a 3-character MPC observatory code ('F51'); is "
            "the line shorter than 80 columns or shifted?"
        )
    return {
        "designation": _parse_designation(line),
        "mjd_utc": _parse_date(line[15:32]),
        "ra": _parse_ra(line[32:44]),
        "dec": _parse_dec(line[44:56]),
        "mag": _parse_mag(line[65:70]),
        "band": line[70].strip(),
        "observatoryCode": code,
        "note2": line[14],
    }


def read_mpc80(path_or_text, unsupported: str = "raise") -> pd.DataFrame:
    """Read MPC 80-column optical observation records into a DiaSource-style table.

    Parameters
    ----------
    path_or_text : str or pathlib.Path
        A file of records, or the records themselves as one string (a ``str`` containing a
        newline is taken as text, any other ``str`` as a path). Blank lines are ignored;
        trailing blanks may be missing as long as columns 78-80 hold the observatory code.
    unsupported : {"raise", "skip"}
        What to do with records of a type listed in :data:`UNSUPPORTED_OBSERVATION_TYPES`
        (two-line satellite, roving-observer and radar records, deleted observations):
        ``"raise"`` (default) raises; ``"skip"`` drops them and issues one warning that counts
        the skipped lines per type.

    Returns
    -------
    pandas.DataFrame
        One row per observation, in file order: ``diaSourceId`` (int64, 0..n-1),
        ``designation`` (str: unpacked number such as ``'8467'`` when columns 1-5 are set, else
        the unpacked provisional designation such as ``'2021 AB12'``, else the temporary
        designation), ``midpointMjdTai`` (float64, MJD TAI converted from the UTC date), ``ra``,
        ``dec`` (float64, degrees), ``mag`` (float64, NaN when blank), ``band`` (str, ``''`` when
        blank), ``observatoryCode`` (str) and ``note2`` (str, the column-15 type code).

    Raises
    ------
    ValueError
        Naming the source, the line number (from 1, blank lines counted) and the columns, for
        any malformed line: lines longer than 80 columns, a missing observatory code, an
        unknown observation type, a bad designation, date, RA, Dec or magnitude; and, with
        ``unsupported="raise"``, for unsupported observation types.
    """
    if unsupported not in ("raise", "skip"):
        raise InputError(f"unsupported={unsupported!r}: use 'raise' or 'skip'")
    text, source = _read_text(path_or_text)
    records: list[dict] = []
    skipped: Counter = Counter()
    allowed = "".join(SUPPORTED_OBSERVATION_TYPES)
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not line:
            continue
        where = f"{source}, line {number}"
        if len(line) > 80:
            raise InputError(
                f"{where}: the line has {len(line)} columns; MPC records have at most 80"
            )
        line = line.ljust(80)
        kind = line[14]
        if kind in UNSUPPORTED_OBSERVATION_TYPES:
            if unsupported == "skip":
                skipped[kind] += 1
                continue
            raise InputError(
                f"{where}, column 15: observation type {kind!r} "
                f"({UNSUPPORTED_OBSERVATION_TYPES[kind]}) is not supported; read_mpc80 reads the "
                f"single-line optical types {allowed!r}; pass unsupported='skip' to drop such "
                "lines with a warning"
            )
        if kind not in SUPPORTED_OBSERVATION_TYPES:
            raise InputError(
                f"{where}, column 15: {kind!r} is not an MPC observation type; allowed "
                f"single-line optical types are {allowed!r}"
            )
        try:
            records.append(_parse_line(line))
        except _LineError as error:
            raise InputError(f"{where}, {error}") from None
    if skipped:
        detail = ", ".join(
            f"{count} of type {kind!r} ({UNSUPPORTED_OBSERVATION_TYPES[kind]})"
            for kind, count in sorted(skipped.items())
        )
        warnings.warn(
            f"{source}: skipped {sum(skipped.values())} unsupported line(s): {detail}",
            stacklevel=2,
        )
    mjd_utc = np.array([r["mjd_utc"] for r in records], dtype=np.float64)
    mjd_tai = convert_mjd(mjd_utc, "utc", "tai") if mjd_utc.size else mjd_utc
    return pd.DataFrame({
        "diaSourceId": np.arange(len(records), dtype=np.int64),
        "designation": pd.Series([r["designation"] for r in records], dtype=object),
        "midpointMjdTai": mjd_tai,
        "ra": np.array([r["ra"] for r in records], dtype=np.float64),
        "dec": np.array([r["dec"] for r in records], dtype=np.float64),
        "mag": np.array([r["mag"] for r in records], dtype=np.float64),
        "band": pd.Series([r["band"] for r in records], dtype=object),
        "observatoryCode": pd.Series([r["observatoryCode"] for r in records], dtype=object),
        "note2": pd.Series([r["note2"] for r in records], dtype=object),
    })


# ----------------------------------------------------------------------------------------------
# Validation shared by the writers
# ----------------------------------------------------------------------------------------------


def _row_label(table: pd.DataFrame, row: int) -> str:
    if "diaSourceId" in table.columns:
        return f"row {row} (diaSourceId={table['diaSourceId'].iloc[row]})"
    return f"row {row}"


def _fail(table: pd.DataFrame, column: str, bad: np.ndarray, allowed: str) -> None:
    rows = np.flatnonzero(bad)
    if rows.size:
        shown = ", ".join(
            f"{_row_label(table, r)}: {table[column].iloc[r]!r}" for r in rows[:3]
        )
        more = f" and {rows.size - 3} more" if rows.size > 3 else ""
        raise InputError(f"column {column!r}: {allowed}; found {shown}{more}")


def _float_column(table: pd.DataFrame, column: str, finite: bool = True) -> np.ndarray:
    try:
        values = table[column].to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise InputError(
            f"column {column!r} must be numeric (float64); got dtype {table[column].dtype}"
        ) from None
    if finite:
        _fail(table, column, ~np.isfinite(values), "values must be finite (no NaN or infinity)")
    else:
        _fail(table, column, np.isinf(values), "values must be finite or NaN (not measured)")
    return values


def _validate(table: pd.DataFrame, function: str) -> dict:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{function} takes a pandas DataFrame; got {type(table).__name__}")
    missing = [c for c in _MPC_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(
            f"{function}: the table lacks the column(s) {missing}; it needs "
            f"{list(_MPC_COLUMNS)} (designation, MJD TAI, RA and Dec in degrees, MPC code)"
        )
    mjd_tai = _float_column(table, "midpointMjdTai")
    ra = _float_column(table, "ra")
    dec = _float_column(table, "dec")
    _fail(table, "ra", (ra < 0.0) | (ra >= 360.0), "RA must lie in [0, 360) degrees")
    _fail(table, "dec", np.abs(dec) > 90.0, "Dec must lie in [-90, 90] degrees")
    codes = table["observatoryCode"].to_numpy(dtype=object)
    bad = np.array([not (isinstance(c, str) and _RE_CODE.match(c)) for c in codes], dtype=bool)
    _fail(table, "observatoryCode", bad,
          "MPC observatory codes are exactly 3 printable non-blank characters, e.g. 'X05'")
    designations = [
        _classify(value, row) for row, value in enumerate(table["designation"].to_numpy(object))
    ]
    mag = _float_column(table, "mag", finite=False) if "mag" in table.columns else None
    band = None
    if "band" in table.columns:
        band = [("" if b is None or (isinstance(b, float) and np.isnan(b)) else b)
                for b in table["band"].to_numpy(dtype=object)]
        bad = np.array([not (isinstance(b, str) and len(b) <= 1 and b.strip() == b
                             and (b == "" or b in string.ascii_letters)) for b in band],
                       dtype=bool)
        _fail(table, "band", bad, "bands are one ASCII letter (or '' / NaN for none)")
    mjd_utc = convert_mjd(mjd_tai, "tai", "utc") if mjd_tai.size else mjd_tai
    return {"mjd_utc": mjd_utc, "ra": ra, "dec": dec, "codes": codes,
            "designations": designations, "mag": mag, "band": band}


def _notes(table: pd.DataFrame) -> list[str]:
    """Observation type (note 2) of each row: the ``note2`` column, else ``'C'`` (CCD)."""
    if "note2" not in table.columns:
        return ["C"] * len(table)
    notes = list(table["note2"].to_numpy(dtype=object))
    bad = np.array([not (isinstance(v, str) and v in SUPPORTED_OBSERVATION_TYPES)
                    for v in notes], dtype=bool)
    _fail(table, "note2", bad, "note2 is one of the single-line optical observation types "
          f"{''.join(SUPPORTED_OBSERVATION_TYPES)!r}")
    return notes


def _calendar(day_number: int, table: pd.DataFrame, row: int) -> date:
    ordinal = day_number + MJD_EPOCH_ORDINAL
    if not date(1000, 1, 1).toordinal() <= ordinal <= date(9999, 12, 31).toordinal():
        raise InputError(
            f"column 'midpointMjdTai', {_row_label(table, row)}: the UTC date falls outside "
            "years 1000-9999, which the formats cannot write"
        )
    return date.fromordinal(ordinal)


# ----------------------------------------------------------------------------------------------
# Writing the 80-column format
# ----------------------------------------------------------------------------------------------


def _mpc_date(mjd_utc: float, table: pd.DataFrame, row: int) -> str:
    microdays = int(np.rint(mjd_utc * 1e6))  # 6 decimals of a day, rounding carries into days
    day_number, fraction = divmod(microdays, 1_000_000)
    day = _calendar(day_number, table, row)
    return f"{day.year:04d} {day.month:02d} {day.day:02d}.{fraction:06d}"


def _mpc_ra(ra_deg: float) -> str:
    millis = int(np.rint(ra_deg / 15.0 * 3_600_000.0)) % (24 * 3_600_000)  # 24h wraps to 0h
    minutes, millis = divmod(millis, 60_000)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d} {minutes:02d} {millis // 1000:02d}.{millis % 1000:03d}"


def _mpc_dec(dec_deg: float) -> str:
    centis = int(np.rint(abs(dec_deg) * 360_000.0))
    minutes, centis = divmod(centis, 6_000)
    degrees, minutes = divmod(minutes, 60)
    sign = "-" if dec_deg < 0.0 else "+"
    return f"{sign}{degrees:02d} {minutes:02d} {centis // 100:02d}.{centis % 100:02d}"


def format_mpc80(table: pd.DataFrame) -> str:
    """Write observations as MPC 80-column optical records.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per observation. Required: ``designation`` (str: a number ``'8467'`` goes to
        columns 1-5 packed, a provisional designation ``'2026 WA12'`` to columns 6-12 packed,
        a comet ``'1P'`` / ``'C/1995 O1'`` to columns 1-5 / 5-12; anything else must be a
        temporary designation of 1-7 ASCII letters and digits, left-justified in columns
        6-12), ``midpointMjdTai`` (MJD TAI), ``ra`` in [0, 360) and ``dec`` in [-90, 90]
        (degrees), ``observatoryCode`` (3 characters). Optional: ``mag`` (NaN = blank),
        ``band`` (one letter), ``discovery`` (bool, ``*`` in column 13), ``note2`` (one of
        :data:`SUPPORTED_OBSERVATION_TYPES`; ``'C'`` (CCD) when absent).

    Returns
    -------
    str
        One 80-character line per row, each ending in a newline, in row order: UTC date to
        1e-6 day (0.0864 s), RA to 0.001 s of time, Dec to 0.01″, magnitude ``xx.xx``.
        Rounding carries (``59.9995 s`` becomes the next minute, hour or day; 24h becomes 0h).

    Raises
    ------
    ValueError
        Naming the column and row: missing columns, non-finite times or coordinates, RA or
        Dec out of range, bad observatory codes, designations, bands, notes or magnitudes that
        do not fit ``xx.xx``.
    """
    checked = _validate(table, "format_mpc80")
    n = len(table)
    discovery = np.zeros(n, dtype=bool)
    if "discovery" in table.columns:
        values = table["discovery"].to_numpy(dtype=object)
        bad = np.array([not isinstance(v, (bool, np.bool_)) for v in values], dtype=bool)
        _fail(table, "discovery", bad, "discovery flags are booleans")
        discovery = values.astype(bool)
    notes = _notes(table)
    lines = []
    for row in range(n):
        kind, packed, _ = checked["designations"][row]
        if kind == "number":
            ident = packed.ljust(12)
        elif len(packed) == 8:  # comet: orbit type in column 5, designation in 6-12
            ident = " " * 4 + packed
        elif kind == "provisional":
            ident = " " * 5 + packed
        else:
            ident = " " * 5 + packed.ljust(7)
        mag = ""
        if checked["mag"] is not None and np.isfinite(checked["mag"][row]):
            mag = f"{checked['mag'][row]:5.2f}"
            if len(mag) != 5:
                raise InputError(
                    f"column 'mag', {_row_label(table, row)}: {checked['mag'][row]!r} does not "
                    "fit columns 66-70 as 'xx.xx' (-9.99 to 99.99)"
                )
        band = checked["band"][row] if checked["band"] is not None else ""
        line = (
            f"{ident}{'*' if discovery[row] else ' '} {notes[row]}"
            f"{_mpc_date(checked['mjd_utc'][row], table, row)}"
            f"{_mpc_ra(checked['ra'][row])}{_mpc_dec(checked['dec'][row])}"
            f"{'':9}{mag:>5}{band:1}{'':6}{checked['codes'][row]}"
        )
        lines.append(line + "\n")
    return "".join(lines)


# ----------------------------------------------------------------------------------------------
# ADES PSV
# ----------------------------------------------------------------------------------------------


def _names(value, argument: str) -> list[str]:
    if isinstance(value, str):
        names = [value] if value.strip() else []
    elif isinstance(value, Iterable):
        names = [v for v in value]
    else:
        raise InputError(f"{argument}={value!r}: give a name (str) or a sequence of names")
    for name in names:
        if not isinstance(name, str) or not name.strip() or not name.isprintable():
            raise InputError(
                f"{argument}: {name!r} is not a name; names are non-empty printable strings"
            )
    return [name.strip() for name in names]


def _ades_time(mjd_utc: float, table: pd.DataFrame, row: int) -> str:
    millis = int(np.rint(mjd_utc * _MS_PER_DAY))
    day_number, millis = divmod(millis, _MS_PER_DAY)
    day = _calendar(day_number, table, row)
    seconds, millis = divmod(millis, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{day.isoformat()}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


def _fixed(value: float, decimals: int, modulo: int | None = None) -> str:
    """``value`` with ``decimals`` decimals by integer rounding (optionally wrapped)."""
    scaled = int(np.rint(abs(value) * 10**decimals))
    if modulo is not None:
        scaled %= modulo * 10**decimals
    whole, fraction = divmod(scaled, 10**decimals)
    sign = "-" if value < 0.0 and scaled else ""
    return f"{sign}{whole}.{fraction:0{decimals}d}"


def ades_context(codes, submitter="", observers="", measurers="", telescope: dict | None = None,
                 ast_cat: str = "Gaia3") -> dict:
    """The checked obsContext of ADES reports from the observatory codes ``codes``.

    Parameters are those of :func:`format_ades_psv`; ``telescope`` None takes each code's
    telescope from :data:`KNOWN_TELESCOPES`. Returns ``{"people": [(block, names)],
    "telescopes": {code: keys}, "ast_cat": ast_cat}``; called before any work by the callers
    that write reports at the end.

    Raises
    ------
    InputError
        Naming the parameter: an unknown or missing telescope key, an aperture, fRatio or
        pixelScale that is not a positive number, a code without a known telescope when none
        is given, blank or unprintable values, a bad catalogue code or names.
    """
    if not isinstance(ast_cat, str) or not re.match(r"^[!-{}~]+$", ast_cat):
        raise InputError(f"ast_cat={ast_cat!r}: give a catalogue code such as 'Gaia3'")
    telescopes = {}
    for code in codes:
        if telescope is None and code not in KNOWN_TELESCOPES:
            raise InputError(
                f"telescope: the ADES report of observatory code {code!r} needs its telescope "
                "(design, aperture in m, detector); only "
                f"{sorted(KNOWN_TELESCOPES)} have a known one")
        scope = dict(KNOWN_TELESCOPES[code] if telescope is None else telescope)
        unknown = [k for k in scope if k not in _TELESCOPE_KEYS]
        absent = [k for k in ("design", "aperture", "detector") if k not in scope]
        if unknown or absent:
            raise InputError(
                f"telescope={telescope!r}: needs 'design', 'aperture' (m) and 'detector'; "
                f"optional keys are {['name', *_TELESCOPE_KEYS[4:]]}; missing {absent}, "
                f"unknown {unknown}")
        for key, value in scope.items():
            if not str(value).strip() or not str(value).isprintable():
                raise InputError(
                    f"telescope[{key!r}]={value!r}: give a printable, non-empty value")
            if key in _NUMERIC_TELESCOPE_KEYS:
                try:
                    number = float(value)
                except (TypeError, ValueError):
                    number = np.nan
                if not (np.isfinite(number) and number > 0):
                    raise InputError(f"telescope[{key!r}]={value!r}: give a positive number"
                                     + (" (metres)" if key == "aperture" else ""))
        telescopes[code] = scope
    people = [("submitter", _names(submitter, "submitter")),
              ("observers", _names(observers, "observers")),
              ("measurers", _names(measurers, "measurers"))]
    return {"people": people, "telescopes": telescopes, "ast_cat": ast_cat}


def format_ades_psv(
    table: pd.DataFrame,
    *,
    submitter="",
    observers="",
    measurers="",
    telescope: dict | None = None,
    ast_cat: str = "Gaia3",
) -> str:
    """Write observations as ADES (version 2022) pipe-separated values.

    Parameters
    ----------
    table : pandas.DataFrame
        The columns of :func:`format_mpc80` (``designation``, ``midpointMjdTai`` TAI,
        ``ra``, ``dec`` degrees, ``observatoryCode``; optional ``mag``, ``band``, ``note2``;
        ``discovery`` is not written) plus optional
        ``raErr`` and ``decErr`` (degrees; ``raErr`` is taken as already on the sky, the
        uncertainty of RA·cos Dec, as in Rubin's DiaSource) and ``magErr`` (mag). NaN errors
        and magnitudes are written as blank fields.
    submitter, observers, measurers : str or sequence of str
        Names, one ``! name`` line each. An empty string leaves that block out; the MPC needs
        all three on a real submission.
    telescope : dict, optional
        ``design``, ``aperture`` (metres) and ``detector``, plus optionally ``name``,
        ``fRatio``, ``filter``, ``arraySize``, ``pixelScale``. Default: the telescope of each
        observatory code in :data:`KNOWN_TELESCOPES` (other codes need it given).
    ast_cat : str
        Astrometric catalogue code (``astCat``), default ``"Gaia3"``.

    Returns
    -------
    str
        ``# version=2022``, then one obsContext and data section per observatory code, in
        sorted code order and otherwise in row order. Columns are :data:`ADES_COLUMNS`:
        ``permID`` (number, ``'8467'``) for numbered objects, ``provID`` (``'2026 WA12'``)
        for provisional designations, ``trkSub`` for temporary designations; ``mode`` ``CCD``,
        or from the ``note2`` column through :data:`ADES_MODES` when the table has one;
        ``obsTime`` ISO 8601 UTC to the millisecond with a ``Z``; ``ra`` and ``dec`` in degrees
        to 9 and 8 decimals; ``rmsRA``, ``rmsDec`` in arcsec to 4 decimals; ``mag`` to 2 and
        ``rmsMag`` to 3 decimals; ``band``. Fields are padded so that the pipes line up;
        lines carry no trailing blanks.

    Raises
    ------
    ValueError
        As :func:`format_mpc80`, and for errors that are infinite or would be written as 0
        (below 0.00005″ or 0.0005 mag; ADES uncertainties are > 0), or bad header values.
    """
    checked = _validate(table, "format_ades_psv")
    n = len(table)
    errors = {}
    # ADES uncertainties are > 0 (read_ades refuses 0): none may round to 0 at the written
    # precision (0.0001″ for positions, 0.001 mag).
    smallest = {"raErr": 0.00005 / 3600.0, "decErr": 0.00005 / 3600.0, "magErr": 0.0005}
    for column in ("raErr", "decErr", "magErr"):
        if column in table.columns:
            values = _float_column(table, column, finite=False)
            _fail(table, column, values < smallest[column],
                  f"uncertainties must be >= {smallest[column]:.3g} (they are written to "
                  f"{'0.0001 arcsec' if column != 'magErr' else '0.001 mag'}; ADES needs > 0), "
                  "or NaN")
            errors[column] = values
        else:
            errors[column] = np.full(n, np.nan)

    notes = _notes(table)
    context = ades_context(sorted(set(checked["codes"])), submitter, observers, measurers,
                           telescope, ast_cat)
    rows = []
    for row in range(n):
        kind, _, readable = checked["designations"][row]
        ra_err, dec_err, mag_err = (errors[c][row] for c in ("raErr", "decErr", "magErr"))
        mag = checked["mag"][row] if checked["mag"] is not None else np.nan
        rows.append({
            "permID": readable if kind == "number" else "",
            "provID": readable if kind == "provisional" else "",
            "trkSub": readable if kind == "temporary" else "",
            "mode": ADES_MODES.get(notes[row], "UNK"),
            "stn": checked["codes"][row],
            "obsTime": _ades_time(checked["mjd_utc"][row], table, row),
            "ra": _fixed(checked["ra"][row], 9, modulo=360),
            "dec": _fixed(checked["dec"][row], 8),
            "rmsRA": _fixed(ra_err * 3600.0, 4) if np.isfinite(ra_err) else "",
            "rmsDec": _fixed(dec_err * 3600.0, 4) if np.isfinite(dec_err) else "",
            "astCat": context["ast_cat"],
            "mag": _fixed(mag, 2) if np.isfinite(mag) else "",
            "rmsMag": _fixed(mag_err, 3) if np.isfinite(mag_err) else "",
            "band": checked["band"][row] if checked["band"] is not None else "",
        })

    out = [f"# version={ADES_VERSION}"]
    codes = checked["codes"]
    for code in sorted(set(codes)):
        section = [r for r, c in zip(rows, codes, strict=True) if c == code]
        out += ["# observatory", f"! mpcCode {code}"]
        for block, names in context["people"]:
            if names:
                out.append(f"# {block}")
                out += [f"! name {name}" for name in names]
        out.append("# telescope")
        scope = context["telescopes"][code]
        out += [f"! {key} {str(scope[key]).strip()}" for key in _TELESCOPE_KEYS if key in scope]
        widths = [max([len(c)] + [len(r[c]) for r in section]) for c in ADES_COLUMNS]
        out.append("|".join(c.ljust(w) for c, w in zip(ADES_COLUMNS, widths, strict=True))
                   .rstrip())
        out += ["|".join(r[c].ljust(w) for c, w in zip(ADES_COLUMNS, widths, strict=True))
                .rstrip() for r in section]
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------------------------
# Reading ADES (PSV and XML)
# ----------------------------------------------------------------------------------------------

_ADES_VERSIONS = ("2017", "2022")
_ADES_IDS = ("permID", "provID", "trkSub")
_ADES_REQUIRED = ("obsTime", "ra", "dec", "stn")
_ADES_NEEDS = ("an ADES optical observation needs obsTime, ra, dec, stn and one of permID, "
               "provID or trkSub")
#: Non-optical ADES records, recognised to be refused by name.
_ADES_OTHER_RECORDS = ("offset", "occultation", "radar")
_RE_ADES_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_RE_ADES_TEXT = re.compile(r"^[!-~](?:[ -~]*[!-~])?$")  # printable ASCII, no outer blanks
_RE_ADES_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_RE_ADES_TIME = re.compile(
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2}(?:\.[0-9]+)?)Z?$")
_RE_ADES_VERSION = re.compile(r"^#\s*version\s*=(.*)$")
# Numeric fields: (what is allowed, test of a finite value).
_ADES_NUMBERS = {
    "ra": ("RA in degrees, 0 <= ra < 360", lambda v: 0.0 <= v < 360.0),
    "dec": ("Dec in degrees, -90 <= dec <= 90", lambda v: -90.0 <= v <= 90.0),
    "rmsRA": ("an uncertainty of RA·cos Dec in arcsec, > 0", lambda v: v > 0.0),
    "rmsDec": ("an uncertainty of Dec in arcsec, > 0", lambda v: v > 0.0),
    "rmsCorr": ("a correlation coefficient, -1 <= rmsCorr <= 1", lambda v: -1.0 <= v <= 1.0),
    "mag": ("a magnitude, e.g. '17.79'", lambda v: True),
    "rmsMag": ("a magnitude uncertainty, > 0", lambda v: v > 0.0),
}
_ADES_TEXTS = ("band", "mode", "astCat")
_ADES_OUTPUT = ("diaSourceId", "designation", "midpointMjdTai", "ra", "dec", "raErr", "decErr",
                "rmsCorr", "mag", "band", "observatoryCode", "mode", "astCat")


class _Refused(Exception):
    """A DTD in an XML document: stops the parser before anything is expanded."""

    def __init__(self, line: int):
        super().__init__(line)
        self.line = line


def _ades_psv_records(text: str, source: str) -> list[tuple[str, dict]]:
    """(location, {field: text}) of each data row of PSV ``text``, in file order."""
    records = []
    header: list[str] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        where = f"{source}, line {number}"
        if not line:
            continue
        if line.startswith(("#", "!")):
            version = _RE_ADES_VERSION.match(line)
            if version is not None and version.group(1).strip() not in _ADES_VERSIONS:
                raise InputError(
                    f"{where}: {line!r} is not an ADES version read here; use "
                    f"'# version=2022' or '# version=2017'"
                )
            header = None  # obsContext lines: the next row is a column-header row
            continue
        values = [v.strip() for v in raw.split("|")]
        if header is None:
            bad = [v for v in values if not _RE_ADES_FIELD_NAME.match(v)]
            if bad:
                raise InputError(
                    f"{where}: expected a column-header row of ADES field names separated by "
                    f"'|' (such as 'permID|obsTime|ra|dec|stn'); {bad[0]!r} is not a field name"
                )
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise InputError(f"{where}: the column-header row names {repeated} twice")
            absent = [c for c in _ADES_REQUIRED if c not in values]
            if not any(c in values for c in _ADES_IDS):
                absent.append("permID|provID|trkSub")
            if absent:
                raise InputError(
                    f"{where}: the column-header row lacks the required field(s) {absent}; "
                    f"{_ADES_NEEDS}"
                )
            header = values
            continue
        if len(values) != len(header):
            raise InputError(
                f"{where}: the data row has {len(values)} field(s) separated by '|' but its "
                f"column-header row has {len(header)}; every row needs one field per column "
                "(an empty field for a missing value)"
            )
        records.append((where, dict(zip(header, values, strict=True))))
    return records


def _local(name: str) -> str:
    """An element or attribute name without its namespace (expat writes ``uri name``)."""
    return name.rsplit(" ", 1)[-1]


def _ades_xml_records(text: str, source: str, offset: int) -> list[tuple[str, dict]]:
    """(location, {field: text}) of each ``<optical>`` of XML ``text`` (which starts on line
    ``offset + 1`` of the source), in document order."""
    builder = ET.TreeBuilder()
    lines: dict[ET.Element, int] = {}
    parser = expat.ParserCreate(namespace_separator=" ")

    def start(name, attributes):
        element = builder.start(_local(name), {_local(k): v for k, v in attributes.items()})
        lines[element] = parser.CurrentLineNumber + offset

    def refuse(*_):
        raise _Refused(parser.CurrentLineNumber + offset)

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda name: builder.end(_local(name))
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(text, True)
    except expat.ExpatError as error:
        raise InputError(
            f"{source}: malformed XML at line {error.lineno + offset}, column "
            f"{error.offset + 1}: {expat.ErrorString(error.code)}"
        ) from None
    except _Refused as refused:
        raise InputError(
            f"{source}, line {refused.line}: the XML declares a DTD (<!DOCTYPE or <!ENTITY); "
            "ADES documents need none and read_ades does not expand one; remove it"
        ) from None
    root = builder.close()

    def place(element: ET.Element) -> str:
        return f"{source}, line {lines[element]}"

    if root.tag != "ades":
        raise InputError(
            f"{place(root)}: the root element is <{root.tag}>; ADES XML has the root "
            "<ades version=\"2022\"> (or \"2017\")"
        )
    version = root.get("version")
    if version is not None and version.strip() not in _ADES_VERSIONS:
        raise InputError(
            f"{place(root)}: <ades version={version!r}> is not an ADES version read here; use "
            "version=\"2022\" or \"2017\""
        )

    def unexpected(element: ET.Element, parent: str, allowed: str) -> InputError:
        if element.tag in _ADES_OTHER_RECORDS:
            return InputError(
                f"{place(element)}: <{element.tag}> records are not read; read_ades reads "
                "<optical> observations only"
            )
        return InputError(f"{place(element)}: unexpected <{element.tag}> in <{parent}>; "
                          f"expected {allowed}")

    observations = []
    for child in root:
        if child.tag == "optical":
            observations.append(child)
        elif child.tag == "obsBlock":
            for part in child:
                if part.tag == "obsData":
                    for item in part:
                        if item.tag != "optical":
                            raise unexpected(item, "obsData", "<optical>")
                        observations.append(item)
                elif part.tag != "obsContext":
                    raise unexpected(part, "obsBlock", "<obsContext> and <obsData>")
        else:
            raise unexpected(child, "ades", "<obsBlock> or <optical>")

    records = []
    for index, optical in enumerate(observations, start=1):
        where = f"{place(optical)}, observation {index}"
        fields: dict[str, str] = {}
        for field in optical:
            if len(field):
                raise InputError(f"{where}, field {field.tag!r} (line {lines[field]}): expected "
                                 f"text, found the element <{field[0].tag}> inside")
            if field.tag in fields:
                raise InputError(f"{where}: the field {field.tag!r} is given twice (line "
                                 f"{lines[field]})")
            fields[field.tag] = (field.text or "").strip()
        records.append((where, fields))
    return records


def _ades_number(fields: dict, name: str, where: str) -> float:
    text = fields.get(name, "")
    if not text:
        return np.nan
    allowed, test = _ADES_NUMBERS[name]
    value = float(text) if _RE_ADES_NUMBER.match(text) else np.nan
    if not (np.isfinite(value) and test(value)):
        raise InputError(f"{where}, field {name!r}: {text!r} is not {allowed}")
    return value


def _ades_text(fields: dict, name: str, where: str) -> str:
    text = fields.get(name, "")
    if text and not _RE_ADES_TEXT.match(text):
        raise InputError(
            f"{where}, field {name!r}: {text!r} is not printable ASCII text"
        )
    return text


def _ades_obs_time(text: str, where: str) -> tuple:
    """Calendar date and clock time of an ``obsTime``, checked (leap seconds allowed on the
    days that have one); the MJD in UTC is left to ERFA, whose convention on leap-second days
    :func:`~ephemerides.timescales.convert_mjd` shares."""
    m = _RE_ADES_TIME.match(text)
    allowed = ("expected an ISO 8601 UTC time 'YYYY-MM-DDThh:mm:ss.sssZ' (any number of "
               "decimals of a second, 'Z' optional)")
    if m is None:
        raise InputError(f"{where}, field 'obsTime': {text!r}: {allowed}")
    year, month, day, hour, minute = (int(g) for g in m.groups()[:5])
    seconds = float(m.group(6))
    try:
        day_number = date(year, month, day).toordinal() - MJD_EPOCH_ORDINAL
    except ValueError as error:
        raise InputError(f"{where}, field 'obsTime': {text!r} is not a calendar date ({error})"
                         ) from None
    if not MJD_RANGE[0] <= day_number < MJD_RANGE[1]:
        raise InputError(
            f"{where}, field 'obsTime': {text!r} lies outside MJD {MJD_RANGE[0]:,.0f} to "
            f"{MJD_RANGE[1]:,.0f} (years 1550 to 2650, the span of the planetary ephemeris)"
        )
    leap = False
    if seconds >= 60.0 and hour == 23 and minute == 59:
        following = date(year, month, day) + timedelta(days=1)
        with quiet_erfa():
            leap = (erfa.dat(following.year, following.month, following.day, 0.0)
                    - erfa.dat(year, month, day, 0.0)) > 0.5
    if hour > 23 or minute > 59 or seconds >= (61.0 if leap else 60.0):
        raise InputError(
            f"{where}, field 'obsTime': {text!r} needs hours 0-23, minutes 0-59 and seconds "
            "below 60 (below 61 at 23:59 on a day that ends in a leap second)"
        )
    return year, month, day, hour, minute, seconds


def _ades_row(where: str, fields: dict) -> dict:
    row = {name: _ades_text(fields, name, where) for name in (*_ADES_IDS, *_ADES_TEXTS)}
    designation = next((row[name] for name in _ADES_IDS if row[name]), "")
    if not designation:
        raise InputError(f"{where}: none of the fields permID, provID and trkSub is given; "
                         f"{_ADES_NEEDS}")
    for name in _ADES_REQUIRED:
        if not fields.get(name, ""):
            raise InputError(
                f"{where}, field {name!r}: missing or empty; {_ADES_NEEDS}"
            )
    code = fields["stn"]
    if not _RE_CODE.match(code):
        raise InputError(
            f"{where}, field 'stn': {code!r} is not an MPC observatory code; codes are exactly "
            "3 printable non-blank ASCII characters, e.g. 'X05'"
        )
    row.update({name: _ades_number(fields, name, where) for name in _ADES_NUMBERS})
    row["designation"] = designation
    row["observatoryCode"] = code.upper()
    row["time"] = _ades_obs_time(fields["obsTime"], where)
    return row


def read_ades(path_or_text) -> pd.DataFrame:
    """Read ADES (version 2017 or 2022) optical astrometry, PSV or XML, into a DiaSource-style
    table.

    Parameters
    ----------
    path_or_text : str or pathlib.Path
        A file, or its text as one string: a ``str`` containing a newline, or starting (after
        blanks) with ``<``, is taken as text, any other ``str`` as a path. Files are read as
        UTF-8; a leading byte-order mark is skipped. Text whose first character is ``<`` is
        XML, any other text PSV (see the module documentation for both layouts).

    Returns
    -------
    pandas.DataFrame
        One row per ``optical`` observation, in file order: ``diaSourceId`` (int64, 0..n-1),
        ``designation`` (str: ``permID`` such as ``'8467'`` or ``'1P'`` when given, else
        ``provID`` such as ``'2021 AB12'``, else ``trkSub``; taken as written), ``midpointMjdTai``
        (float64, MJD TAI converted from the UTC ``obsTime``), ``ra``, ``dec`` (float64,
        degrees), ``raErr``, ``decErr`` (float64, degrees: ``rmsRA``/3600, of RA·cos Dec, and
        ``rmsDec``/3600; NaN when absent), ``rmsCorr`` (float64, NaN when absent), ``mag``
        (float64, NaN when absent), ``band`` (str, ``''`` when absent), ``observatoryCode``
        (str, ``stn`` upper-cased), ``mode`` and ``astCat`` (str, ``''`` when absent).
        ``rmsMag`` is checked but not returned. A file without observations gives an empty
        table with these columns and dtypes.

    Raises
    ------
    ValueError
        Naming the source, the line (PSV: the row's line; XML: the line of the element and the
        observation's position, from 1), the field, its text and what is allowed: malformed XML
        (with the parser's position), a DTD, an unknown root or non-optical records, a PSV row
        whose field count differs from its column-header row, a missing required field
        (``obsTime``, ``ra``, ``dec``, ``stn``, one of ``permID``/``provID``/``trkSub``), a
        number that is not decimal or out of range (``ra`` in [0, 360), ``dec`` in [-90, 90],
        ``rmsRA``, ``rmsDec``, ``rmsMag`` > 0, ``rmsCorr`` in [-1, 1]), a bad ``obsTime``, a
        station code that is not 3 printable characters, or text that is not printable ASCII
        (such as bytes that are not UTF-8).
    """
    if isinstance(path_or_text, str) and path_or_text.lstrip(" \t\r\ufeff").startswith("<"):
        text, source = path_or_text, "<text>"
    else:
        text, source = _read_text(path_or_text, "read_ades", encoding="utf-8")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{source}: the text holds lone surrogates, so it is not valid "
                         "Unicode; ADES files are UTF-8 text (PSV or XML)") from None
    if "\x00" in text:
        raise InputError(
            f"{source}: the input holds NUL bytes, so it is not a text file; ADES files are "
            "UTF-8 text (PSV or XML)"
        )
    text = text.removeprefix("\ufeff")  # a byte-order mark
    body = text.lstrip(" \t\r\n")
    if body.startswith("<"):
        skipped = text[: len(text) - len(body)]
        records = _ades_xml_records(body, source, skipped.count("\n"))
    else:
        records = _ades_psv_records(text, source)
    rows = [_ades_row(where, fields) for where, fields in records]

    if rows:
        year, month, day, hour, minute, seconds = (np.array(v) for v in zip(
            *(r["time"] for r in rows), strict=True))
        with quiet_erfa():
            jd1, jd2 = erfa.dtf2d("UTC", year, month, day, hour, minute, seconds)
        mjd_tai = convert_mjd((jd1 - 2_400_000.5) + jd2, "utc", "tai")
    else:
        mjd_tai = np.empty(0, dtype=np.float64)

    def numbers(name: str, scale: float = 1.0) -> np.ndarray:
        return np.array([r[name] for r in rows], dtype=np.float64) / scale

    def texts(name: str) -> pd.Series:
        return pd.Series([r[name] for r in rows], dtype=object)

    return pd.DataFrame({
        "diaSourceId": np.arange(len(rows), dtype=np.int64),
        "designation": texts("designation"),
        "midpointMjdTai": np.asarray(mjd_tai, dtype=np.float64),
        "ra": numbers("ra"),
        "dec": numbers("dec"),
        "raErr": numbers("rmsRA", 3600.0),
        "decErr": numbers("rmsDec", 3600.0),
        "rmsCorr": numbers("rmsCorr"),
        "mag": numbers("mag"),
        "band": texts("band"),
        "observatoryCode": texts("observatoryCode"),
        "mode": texts("mode"),
        "astCat": texts("astCat"),
    }, columns=list(_ADES_OUTPUT))


ASTROMETRY_FORMATS = ("mpc80", "ades")


def _looks_like_ades(text: str) -> bool:
    """ADES by content: XML, or PSV's ``#``/``!`` header lines or ``|``-separated rows. An MPC
    80-column record has neither in the columns that matter."""
    for line in text.lstrip("\ufeff").splitlines():
        if line.strip():
            first = line.lstrip()
            return first.startswith(("<", "#", "!")) or "|" in line
    return False


def read_astrometry(path, format: str | None = None, unsupported: str = "raise") -> pd.DataFrame:
    """Read optical astrometry of any number of objects: MPC 80-column or ADES (PSV or XML).

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    format : {"mpc80", "ades"}, optional
        Detected from the content when omitted (XML, or PSV header or ``|`` rows: ADES).
    unsupported : {"raise", "skip"}
        For MPC 80-column files, as :func:`read_mpc80`.

    Returns
    -------
    pandas.DataFrame
        :func:`read_mpc80`'s or :func:`read_ades`'s table (both have ``designation``,
        ``midpointMjdTai``, ``ra``, ``dec``, ``mag``, ``band`` and ``observatoryCode``).
    """
    if format is not None and format not in ASTROMETRY_FORMATS:
        raise InputError(f"format={format!r}; use one of {ASTROMETRY_FORMATS} or None to "
                         "detect it")
    path = Path(path)
    if path.is_dir():
        raise InputError(f"astrometry file {path} is a folder; give the file")
    if not path.is_file():
        raise FileNotFoundError(f"astrometry file {path} does not exist")
    if format is None:
        with path.open("rb") as stream:
            head = stream.read(65536).decode("utf-8", errors="replace")
        format = "ades" if _looks_like_ades(head) else "mpc80"
    if format == "ades":
        return read_ades(path)
    return read_mpc80(path, unsupported=unsupported)
