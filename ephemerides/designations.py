"""Minor Planet Center designations: packing, unpacking, packed dates and Rubin's ``ssObjectId``.

The packed forms follow the MPC's "Packed Provisional and Permanent Designations", "Extended
Packed Provisional Designation Scheme" and "Packed Dates" pages:

===============================  =============  ================================================
unpacked                         packed         rule
===============================  =============  ================================================
``433``, ``(433)``               ``00433``      numbers below 100000: five zero-padded digits
``100345``                       ``A0345``      100000-619999: letter for the ten-thousands
                                                (A-Z = 10-35, a-z = 36-61) and four digits
``620000``                       ``~0000``      620000 and above: ``~`` and four base-62 digits
                                                of ``number - 620000``
``1995 XA``, ``1998 SQ108``      ``J95X00A``,   century letter (I/J/K/L = 18-21), two-digit
                                 ``J98SA8Q``    year, half-month letter, cycle count in two
                                                characters (tens digit base 62), second letter
``2026 CA620``                   ``_QC0000``    cycle >= 620 (years 2000-2061): ``_``, base-62
                                                year - 2000, half-month letter, four base-62
                                                digits of ``(cycle - 620) * 25 + letter index``
``2040 P-L``, ``3138 T-1``       ``PLS2040``,   survey code ``PLS``/``T1S``/``T2S``/``T3S``
                                 ``T1S3138``    and the four-digit number
``C/1995 O1``, ``P/1994 P1-B``   ``CJ95O010``,  orbit-type letter, then the provisional form
                                 ``PJ94P01b``   with the order in columns 5-6 and a lower-case
                                                fragment letter (or ``0``) in column 7
``P/2019 GG21``                  ``PK19G21G``   comet with an asteroid-style designation
``1P``, ``1P/Halley``            ``0001P``      numbered periodic (P, D) or interstellar (I)
===============================  =============  ================================================

Sorcha-style identifiers with an underscore for the space (``2010_TU149``) are accepted as
unpacked provisional designations. Fragments of numbered comets (``73P-B``) are not supported.
"""

import hashlib
import re
from datetime import date

import numpy as np

from ephemerides.errors import InputError

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_VALUE = {c: i for i, c in enumerate(_BASE62)}
# Order-within-half-month letters: A-Z without I (25 letters); half-month letters also skip Z.
_SECOND_LETTERS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"
_CENTURY_LETTERS = {"I": 18, "J": 19, "K": 20, "L": 21}
_CENTURY_FOR = {v: k for k, v in _CENTURY_LETTERS.items()}
_SURVEYS = {"P-L": "PLS", "T-1": "T1S", "T-2": "T2S", "T-3": "T3S"}
_SURVEY_FOR = {v: k for k, v in _SURVEYS.items()}

MAX_NUMBER = 620_000 + 62**4 - 1  # 15396335, the largest number the ``~xxxx`` form holds
_EXTENDED_CYCLE = 620  # first cycle count that needs the extended ``_`` form
MJD_EPOCH_ORDINAL = date(1858, 11, 17).toordinal()

_H = "[A-HJ-Y]"  # half-month letter
_L = "[A-HJ-Z]"  # order letter
_B62 = "[0-9A-Za-z]"

# Unpacked forms.
_RE_NUMBER = re.compile(r"^(?:\(([1-9]\d*)\)|([1-9]\d*))$")
_RE_PROVISIONAL = re.compile(rf"^(\d{{4}}) ({_H})({_L})([1-9]\d*)?$")
_RE_SURVEY = re.compile(r"^(\d{4}) (P-L|T-[123])$")
_RE_COMET = re.compile(rf"^([PCDXAI])/(\d{{4}}) ({_H})([1-9]\d*)(?:-([A-Z]))?$")
_RE_COMET_ASTEROID_STYLE = re.compile(rf"^([PCDXA])/(\d{{4}} {_H}{_L}(?:[1-9]\d*)?)$")
_RE_NUMBERED_COMET = re.compile(r"^0*([1-9]\d{0,3})([PDI])(?:/.+)?$")
# Packed forms.
_RE_PACKED_NUMBER = re.compile(r"^(?:\d{5}|[A-Za-z]\d{4})$")
_RE_PACKED_TILDE = re.compile(rf"^~({_B62}{{4}})$")
_RE_PACKED_PROVISIONAL = re.compile(rf"^([IJKL])(\d\d)({_H})({_B62})(\d)({_L})$")
_RE_PACKED_EXTENDED = re.compile(rf"^_({_B62})({_H})({_B62}{{4}})$")
_RE_PACKED_SURVEY = re.compile(r"^(PLS|T1S|T2S|T3S)(\d{4})$")
_RE_PACKED_COMET = re.compile(rf"^([PCDXAI])([IJKL])(\d\d)({_H})({_B62})(\d)([0a-z])$")
_RE_PACKED_COMET_ASTEROID_STYLE = re.compile(rf"^([PCDXA])([IJKL]\d\d{_H}{_B62}\d{_L})$")
_RE_PACKED_NUMBERED_COMET = re.compile(r"^(\d{4})([PDI])$")
_RE_PACKED_DATE = re.compile(r"^([IJKL])(\d\d)([1-9A-C])([1-9A-V])(\d*)$")

_UNPACKED_FORMS = (
    "numbered minor planet '433' or '(433)' (1 to 15396335); provisional '1995 XA', "
    "'1998 SQ108' or Sorcha-style '1998_SQ108' (years 1800-2199); survey '2040 P-L', "
    "'3138 T-1', '1010 T-2', '4101 T-3'; comet 'C/1995 O1', 'P/1994 P1-B', 'P/2019 GG21', "
    "'1P' or '1P/Halley'"
)
_PACKED_FORMS = (
    "numbered '00433', 'A0345', '~0000'; provisional 'J95X00A' or extended '_QC0000'; "
    "survey 'PLS2040', 'T1S3138'; comet 'CJ95O010', 'PJ94P01b', 'PK19G21G' or '0001P'"
)


def base62(value: int, width: int) -> str:
    """``value`` (>= 0) as ``width`` base-62 digits (0-9, A-Z, a-z), most significant first."""
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        digits.append(_BASE62[digit])
    return "".join(reversed(digits))


def _from_base62(text: str) -> int:
    value = 0
    for c in text:
        value = value * 62 + _BASE62_VALUE[c]
    return value


def _pack_number(number: int) -> str:
    if number < 100_000:
        return f"{number:05d}"
    if number < 620_000:
        return _BASE62[number // 10_000] + f"{number % 10_000:04d}"
    return "~" + base62(number - 620_000, 4)


def _pack_year(year: int, given: str) -> str:
    century = _CENTURY_FOR.get(year // 100)
    if century is None:
        raise InputError(
            f"{given!r}: year {year} cannot be packed; packed designations cover 1800-2199"
        )
    return f"{century}{year % 100:02d}"


def _pack_cycle(cycle: int) -> str:
    """Two-character cycle count (or comet order) 0-619: base-62 tens digit and a units digit."""
    return _BASE62[cycle // 10] + str(cycle % 10)


def _pack_provisional(year: int, half: str, letter: str, cycle: int, given: str) -> str:
    if cycle < _EXTENDED_CYCLE:
        return f"{_pack_year(year, given)}{half}{_pack_cycle(cycle)}{letter}"
    if not 2000 <= year <= 2061:
        raise InputError(
            f"{given!r}: cycle count {cycle} >= 620 needs the extended packed form, which the "
            "MPC defines for years 2000-2061 only"
        )
    sequence = (cycle - _EXTENDED_CYCLE) * 25 + _SECOND_LETTERS.index(letter)
    if sequence >= 62**4:
        raise InputError(f"{given!r}: cycle count {cycle} is beyond the extended packed form")
    return f"_{_BASE62[year - 2000]}{half}{base62(sequence, 4)}"


def _normalise(identifier) -> str:
    if isinstance(identifier, (int, np.integer)) and not isinstance(identifier, bool):
        return str(int(identifier))
    if not isinstance(identifier, str):
        raise TypeError(f"designations are strings; got {type(identifier).__name__} {identifier!r}")
    text = identifier.strip()
    # Sorcha writes '2010_TU149' for '2010 TU149'; the extended packed form starts with '_'.
    if re.match(r"^\d{4}_", text):
        text = text.replace("_", " ", 1)
    return text


def pack_designation(unpacked: str) -> str:
    """Pack an MPC designation into the form used in MPCORB and observation files.

    Parameters
    ----------
    unpacked : str
        A readable designation: ``'433'`` or ``'(433)'``, ``'1995 XA'`` (or Sorcha's
        ``'1995_XA'``), ``'2040 P-L'``, ``'C/1995 O1'``, ``'P/1994 P1-B'``, ``'1P'``.

    Returns
    -------
    str
        The packed designation: 5 characters for numbered objects and numbered comets,
        7 for provisional and survey designations, 8 for provisional comet designations.

    Raises
    ------
    ValueError
        When ``unpacked`` is none of the forms above (the message lists them).
    """
    text = _normalise(unpacked)
    packed = _pack(text, unpacked)
    if packed is not None:
        return packed
    try:
        readable = _unpack(text, unpacked)
    except ValueError:
        readable = None
    if readable is None:
        raise InputError(
            f"{unpacked!r} is not an MPC designation we can pack; allowed forms: {_UNPACKED_FORMS}"
        )
    raise InputError(
        f"{unpacked!r} is already packed (it unpacks to {readable!r}); pack_designation takes "
        f"unpacked forms: {_UNPACKED_FORMS}"
    )


def _pack(text: str, given: str) -> str | None:
    """Packed form of normalised ``text``; None when it matches no unpacked form."""
    if m := _RE_NUMBER.match(text):
        number = int(m.group(1) or m.group(2))
        if number > MAX_NUMBER:
            raise InputError(f"{given!r}: minor-planet numbers up to {MAX_NUMBER} can be packed")
        return _pack_number(number)
    if m := _RE_PROVISIONAL.match(text):
        year, half, letter, cycle = m.groups()
        return _pack_provisional(int(year), half, letter, int(cycle or 0), given)
    if m := _RE_SURVEY.match(text):
        return _SURVEYS[m.group(2)] + m.group(1)
    if m := _RE_COMET.match(text):
        kind, year, half, order, fragment = m.groups()
        if int(order) >= _EXTENDED_CYCLE:
            raise InputError(f"{given!r}: comet orders up to 619 can be packed")
        tail = fragment.lower() if fragment else "0"
        return f"{kind}{_pack_year(int(year), given)}{half}{_pack_cycle(int(order))}{tail}"
    if m := _RE_COMET_ASTEROID_STYLE.match(text):
        packed = _pack(m.group(2), given)
        if packed.startswith("_"):
            raise InputError(f"{given!r}: extended forms are not supported for comets")
        return m.group(1) + packed
    if m := _RE_NUMBERED_COMET.match(text):
        return f"{int(m.group(1)):04d}{m.group(2)}"
    return None


def unpack_designation(packed: str) -> str:
    """Unpack an MPC packed designation into its readable form.

    Parameters
    ----------
    packed : str
        A packed designation such as ``'00433'``, ``'A0345'``, ``'~0000'``, ``'J95X00A'``,
        ``'_QC0000'``, ``'PLS2040'``, ``'CJ95O010'`` or ``'0001P'``; surrounding blanks (as in
        MPCORB's 7-character column) are ignored.

    Returns
    -------
    str
        The readable designation: ``'433'`` (no parentheses), ``'1995 XA'``, ``'2040 P-L'``,
        ``'C/1995 O1'``, ``'1P'``.

    Raises
    ------
    ValueError
        When ``packed`` is none of the packed forms (the message lists them).
    """
    if not isinstance(packed, str):
        raise TypeError(f"packed designations are strings; got {type(packed).__name__}")
    readable = _unpack(packed.strip(), packed)
    if readable is None:
        raise InputError(
            f"{packed!r} is not a packed MPC designation; allowed forms: {_PACKED_FORMS}"
        )
    return readable


def _unpack(text: str, given: str) -> str | None:
    """Readable form of stripped packed ``text``; None when it matches no packed form."""
    if _RE_PACKED_NUMBER.match(text):
        number = _BASE62_VALUE[text[0]] * 10_000 + int(text[1:])
        if number == 0:
            raise InputError(f"{given!r}: minor-planet numbers start at 1")
        return str(number)
    if m := _RE_PACKED_TILDE.match(text):
        return str(620_000 + _from_base62(m.group(1)))
    if m := _RE_PACKED_PROVISIONAL.match(text):
        century, yy, half, tens, units, letter = m.groups()
        cycle = _BASE62_VALUE[tens] * 10 + int(units)
        if cycle >= _EXTENDED_CYCLE:
            raise InputError(f"{given!r}: cycle counts >= 620 use the extended '_' form")
        year = _CENTURY_LETTERS[century] * 100 + int(yy)
        return f"{year} {half}{letter}{cycle or ''}"
    if m := _RE_PACKED_EXTENDED.match(text):
        year_code, half, digits = m.groups()
        cycle, index = divmod(_from_base62(digits), 25)
        return f"{2000 + _BASE62_VALUE[year_code]} {half}{_SECOND_LETTERS[index]}{cycle + 620}"
    if m := _RE_PACKED_SURVEY.match(text):
        return f"{m.group(2)} {_SURVEY_FOR[m.group(1)]}"
    if m := _RE_PACKED_COMET.match(text):
        kind, century, yy, half, tens, units, fragment = m.groups()
        order = _BASE62_VALUE[tens] * 10 + int(units)
        if order == 0:
            raise InputError(f"{given!r}: comet orders within a half-month start at 1")
        year = _CENTURY_LETTERS[century] * 100 + int(yy)
        suffix = "" if fragment == "0" else "-" + fragment.upper()
        return f"{kind}/{year} {half}{order}{suffix}"
    if m := _RE_PACKED_COMET_ASTEROID_STYLE.match(text):
        return f"{m.group(1)}/{_unpack(m.group(2), given)}"
    if m := _RE_PACKED_NUMBERED_COMET.match(text):
        if int(m.group(1)) == 0:
            raise InputError(f"{given!r}: periodic-comet numbers start at 1")
        return f"{int(m.group(1))}{m.group(2)}"
    return None


def packed_form(identifier: str) -> str | None:
    """The packed designation of ``identifier`` if it is an MPC designation, else ``None``.

    ``identifier`` may be unpacked (``'2016 AB'``, ``'2010_TU149'``, ``'433'``) or already packed
    (``'K16A00B'``, ``'00433'``).
    """
    text = _normalise(identifier)
    try:
        packed = _pack(text, identifier)
        if packed is None and _unpack(text, identifier) is not None:
            packed = text
    except ValueError:
        return None
    return packed


def _hashed_id(text: str) -> int:
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return -1 - (int.from_bytes(digest, "big") >> 1)


def ss_object_id(identifier: str) -> int:
    """Rubin's 64-bit ``ssObjectId`` for an object identifier.

    The rule, applied to ``identifier`` with surrounding blanks removed:

    1. an MPC designation, unpacked or packed, gives the ASCII bytes of its packed form read as
       a big-endian integer, ``int.from_bytes(packed.encode('ascii'), 'big')``, as Rubin's
       ``packed_obj_id_to_ss_object_id`` computes it. Numbered objects use their 5-character
       packed number: ``'433'`` -> bytes of ``'00433'``; ``'2016 AB'`` -> bytes of ``'K16A00B'``;
    2. any other identifier of at most 8 printable ASCII characters gives its own bytes read
       the same way (``'t1'`` -> ``0x7431``);
    3. anything else gives a deterministic negative value, ``-1 - (h >> 1)`` where ``h`` is the
       8-byte BLAKE2b digest of the UTF-8 text read big-endian, so it lies in
       [-2**63, -1] and never collides with rules 1-2, which are positive (ASCII < 128).

    Parameters
    ----------
    identifier : str
        Object identifier (designation, Sorcha ObjID, ...). Integers are taken as numbers.

    Returns
    -------
    int
        A value that fits in a signed 64-bit integer.
    """
    text = _normalise(identifier)
    if not text:
        raise InputError(f"an object identifier cannot be empty; got {identifier!r}")
    packed = packed_form(text)
    if packed is not None:
        return int.from_bytes(packed.encode("ascii"), "big")
    if len(text) <= 8 and text.isascii() and text.isprintable():
        return int.from_bytes(text.encode("ascii"), "big")
    return _hashed_id(text)


def ss_object_ids(identifiers) -> np.ndarray:
    """Vectorised :func:`ss_object_id`: an int64 array, one value per identifier."""
    values = np.asarray(identifiers, dtype=object).ravel()
    cache: dict = {}
    out = np.empty(values.size, dtype=np.int64)
    for i, identifier in enumerate(values):
        result = cache.get(identifier)
        if result is None:
            result = cache[identifier] = ss_object_id(identifier)
        out[i] = result
    return out


def ss_object_ids_from_packed(packed) -> np.ndarray:
    """``ssObjectId`` of already-packed designations (1-8 ASCII characters each), vectorised.

    The bytes are read as big-endian integers directly, without parsing the designations; use
    :func:`ss_object_ids` for identifiers that may be unpacked or not designations at all.
    """
    text = np.asarray(packed, dtype=str)
    lengths = np.char.str_len(text)
    if text.size and (lengths.min() < 1 or lengths.max() > 8):
        bad = text[(lengths < 1) | (lengths > 8)][0]
        raise InputError(f"packed designations have 1 to 8 characters; got {bad!r}")
    raw = np.char.encode(text, "ascii").astype("S8")
    shift = np.uint64(8) * (np.uint64(8) - lengths.astype(np.uint64))
    return (raw.view(">u8") >> shift).astype(np.int64)


def unpack_packed_epoch(packed: str) -> float:
    """MJD of an MPC packed date, in the time scale of the file it came from (TT for MPCORB).

    Parameters
    ----------
    packed : str
        ``CYYMD`` (century letter I/J/K/L = 18-21, two-digit year, month 1-9/A-C, day 1-9/A-V
        = 1-31), optionally followed by the decimal fraction of the day:
        ``'K161D'`` = 2016 Jan. 13.0, ``'K01AM138303'`` = 2001 Oct. 22.138303.

    Returns
    -------
    float
        Modified Julian Date, days (MJD 0 = 1858 Nov. 17.0; proleptic Gregorian calendar).

    Raises
    ------
    ValueError
        When ``packed`` is not of that form or names a date that does not exist.
    """
    text = packed.strip() if isinstance(packed, str) else packed
    m = _RE_PACKED_DATE.match(text) if isinstance(text, str) else None
    if m is None:
        raise InputError(
            f"{packed!r} is not an MPC packed date: expected CYYMD (century I/J/K/L, two-digit "
            "year, month 1-9/A-C, day 1-9/A-V), optionally followed by fraction-of-day digits, "
            "e.g. 'K161D' = 2016-01-13"
        )
    century, yy, month, day, fraction = m.groups()
    year = _CENTURY_LETTERS[century] * 100 + int(yy)
    try:
        day_ordinal = date(year, _BASE62_VALUE[month], _BASE62_VALUE[day]).toordinal()
    except ValueError as error:
        raise InputError(f"packed date {packed!r} is not a calendar date: {error}") from None
    return float(day_ordinal - MJD_EPOCH_ORDINAL) + (float("0." + fraction) if fraction else 0.0)
