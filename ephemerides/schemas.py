"""Declared table schemas, checked once where a table enters the toolkit.

A :class:`Schema` lists its columns with dtype, unit, allowed range and nullability;
:meth:`Schema.check` returns the table with those columns in their declared dtypes — numbers
written as text (a CSV read without types) are converted — or raises
:class:`ephemerides.errors.InputError` naming the column, the first offending rows (with their
id) and what is allowed. Column names follow Rubin's Science Data Model (apdb.yaml).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ephemerides.errors import InputError

# Offending rows named in a message.
SHOWN_ROWS = 3


@dataclass(frozen=True)
class Column:
    """One column: ``dtype`` "int64", "float64", "str" or "object" (arrays, kept as they are);
    ``unit``; ``required`` in every
    table; ``nullable`` (NaN or missing allowed: "not measured"); finite values within
    [``low``, ``high``] (an end excluded when ``low_open``/``high_open``); text among
    ``choices`` when given; ``description``, what the column holds, for the documentation."""

    name: str
    dtype: str
    unit: str = ""
    required: bool = False
    nullable: bool = True
    low: float = -np.inf
    high: float = np.inf
    high_open: bool = False
    low_open: bool = False
    choices: tuple = ()
    description: str = ""

    def allowed(self) -> str:
        """What the column may hold, in words."""
        kind = {"int64": "integers", "float64": "numbers", "str": "text",
                "object": "arrays"}[self.dtype]
        parts = [kind]
        opening, closing = "(" if self.low_open else "[", ")" if self.high_open else "]"
        if np.isfinite(self.low) and np.isfinite(self.high):
            parts.append(f"in {opening}{self.low:g}, {self.high:g}{closing}")
        elif np.isfinite(self.low):
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        elif np.isfinite(self.high):
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        if self.choices:
            parts.append(f"among {list(self.choices)}")
        if self.unit:
            parts.append(self.unit)
        text = " ".join(parts)
        if self.dtype in ("str", "object"):
            return text
        return text + ("; NaN for 'not measured'" if self.nullable
                       else "; NaN and infinity are not allowed")


@dataclass(frozen=True)
class Schema:
    """A table's columns, and those whose values must be unique."""

    name: str
    columns: tuple[Column, ...]
    unique: tuple[str, ...] = ()

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def dtypes(self) -> dict[str, str]:
        """Column → pandas dtype, for ``DataFrame.astype`` (an empty table keeps its types)."""
        return {c.name: c.dtype for c in self.columns}

    def check(self, table, source: str | None = None, require: tuple[str, ...] = ()):
        """The table with its declared columns in their dtypes (a copy), or InputError.

        Parameters
        ----------
        table : pandas.DataFrame
        source : str, optional
            What the table is, for messages (a file name); the schema's name by default.
        require : tuple of str
            Columns the caller needs beyond the schema's required ones.
        """
        what = source or f"{self.name} table"
        if not isinstance(table, pd.DataFrame):
            raise InputError(f"{what} must be a pandas DataFrame; got {type(table).__name__}")
        needed = self.required + [c for c in require if c not in self.required]
        missing = [c for c in needed if c not in table.columns]
        if missing:
            raise InputError(f"{what} lacks the column(s) {missing} "
                             f"({self.describe(missing)}); it needs {needed}")
        out = table.copy()
        for column in self.columns:
            if column.name in out.columns:
                out[column.name] = _checked(out, column, what, self.unique)
        for name in self.unique:
            if name in out.columns:
                duplicated = out[name].duplicated(keep=False).to_numpy()
                if duplicated.any():
                    values = sorted(set(out.loc[duplicated, name].tolist()))[:5]
                    raise InputError(
                        f"{what}: column {name!r} must be unique; {int(duplicated.sum())} rows "
                        f"share the value(s) {values}; drop or renumber the duplicates")
        return out

    def describe(self, names) -> str:
        by_name = {c.name: c for c in self.columns}
        return "; ".join(f"{n}: {by_name[n].allowed()}" for n in names if n in by_name)


def _checked(table: pd.DataFrame, column: Column, what: str, unique: tuple) -> pd.Series:
    """One column converted to its dtype, after its values are checked."""
    values = table[column.name]
    if column.dtype == "object":
        return values
    if column.dtype == "str":
        if column.choices:
            text = values.astype("str")
            bad = ~text.isin(column.choices).to_numpy() & values.notna().to_numpy()
            _fail(table, column, bad | (values.isna().to_numpy() & ~column.nullable),
                  "is not allowed", what, unique)
            return text
        return values
    given = values.notna().to_numpy().copy()
    textual = values.dtype == object or pd.api.types.is_string_dtype(values.dtype)
    if textual:  # numbers written as text; a blank cell is a missing value
        given &= ~values.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(bool)
    numbers = pd.to_numeric(values, errors="coerce") if textual else values
    as_float = np.asarray(numbers, dtype=np.float64)
    problems = [
        (given & np.isnan(as_float), "is not a number"),
        (~np.isfinite(as_float) & (~np.isnan(as_float) | ~column.nullable),
         "must be finite" if column.nullable else "must be a finite number"),
    ]
    finite = np.isfinite(as_float)
    if np.isfinite(column.low) or np.isfinite(column.high):
        above = as_float >= column.high if column.high_open else as_float > column.high
        below = as_float <= column.low if column.low_open else as_float < column.low
        problems.append((finite & (below | above), "is out of range"))
    if column.dtype == "int64":
        problems.append((finite & ((as_float != np.round(as_float))
                                   | (np.abs(as_float) >= 2.0**63)), "is not a 64-bit integer"))
    for bad, problem in problems:
        _fail(table, column, bad, problem, what, unique)
    if column.dtype == "int64":
        gaps = bool(np.isnan(as_float).any())
        if pd.api.types.is_integer_dtype(numbers.dtype):  # exact, however large
            return numbers.astype("Int64" if gaps else np.int64)
        # Integers read as floats (a CSV column with gaps): nullable integers where a gap is.
        return pd.Series(as_float, index=values.index).astype("Int64" if gaps else np.int64)
    return pd.Series(as_float, index=values.index)


def _fail(table, column: Column, bad: np.ndarray, problem: str, what: str, unique: tuple):
    rows = np.flatnonzero(bad)
    if rows.size == 0:
        return
    key = unique[0] if unique and unique[0] in table.columns and unique[0] != column.name \
        else None
    shown = ", ".join(
        f"row {r}" + (f" ({key}={_plain(table[key].iloc[r])!r})" if key else "")
        + f": {_plain(table[column.name].iloc[r])!r}" for r in rows[:SHOWN_ROWS])
    more = f" and {rows.size - SHOWN_ROWS} more" if rows.size > SHOWN_ROWS else ""
    raise InputError(f"{what}: column {column.name!r} {problem} in {shown}{more}; allowed: "
                     f"{column.allowed()}")


def _plain(value):
    """A NumPy scalar as the Python value it holds (for messages)."""
    return value.item() if isinstance(value, np.generic) else value


DIASOURCE = Schema(
    "DiaSource",
    (
        Column("diaSourceId", "int64", required=True, nullable=False,
               description="identifier of the detection"),
        Column("visit", "int64", description="the visit's ``observationId``"),
        Column("detector", "int64", description="detector of the focal plane"),
        Column("midpointMjdTai", "float64", "MJD (TAI)", required=True, nullable=False,
               description="middle of the exposure"),
        Column("ra", "float64", "deg", required=True, nullable=False, low=0.0, high=360.0,
               high_open=True, description="right ascension, ICRF"),
        Column("dec", "float64", "deg", required=True, nullable=False, low=-90.0, high=90.0,
               description="declination, ICRF"),
        Column("raErr", "float64", "deg", low=0.0,
               description="1σ error of ``ra`` (weights the orbit fits)"),
        Column("decErr", "float64", "deg", low=0.0, description="1σ error of ``dec``"),
        Column("psfFlux", "float64", "nJy",
               description="PSF flux on the difference image (gives H)"),
        Column("psfFluxErr", "float64", "nJy", low=0.0, description="1σ error of ``psfFlux``"),
        Column("band", "str", description="band of the visit's filter"),
        Column("trailLength", "float64", "arcsec", low=0.0,
               description="length of the trail during the exposure"),
        Column("trailAngle", "float64", "deg",
               description="position angle of the trail, North through East"),
        Column("trailLengthErr", "float64", "arcsec", low=0.0,
               description="1σ error of a measured ``trailLength``"),
        Column("trailAngleErr", "float64", "deg", low=0.0,
               description="1σ error of a measured ``trailAngle``"),
        Column("trailDeltaChi2", "float64", "", low=0.0,
               description="χ² gain of the trail fit over a point source (trailed above 13.8)"),
        Column("trailFlags", "int64", low=0.0,
               description="flags of the trail fit, bits of ``sso.trails.FLAG_BITS``"),
    ),
    unique=("diaSourceId",),
)
"""DIASources (Rubin's DiaSource): what the association and the linking read."""


VISIT = Schema(
    "Visit",
    (
        Column("observationId", "int64", required=True, nullable=False, low=0.0, high=2.0**39,
               high_open=True, description="visit identifier, the DiaSource ``visit``"),
        Column("observationStartMJD", "float64", "MJD (TAI)", required=True, nullable=False,
               description="start of the exposure"),
        Column("visitTime", "float64", "s", required=True, nullable=False, low=0.0,
               description="total time of the visit"),
        Column("visitExposureTime", "float64", "s", required=True, nullable=False, low=0.0,
               low_open=True,
               description="open-shutter time; the midpoint is the start plus half of it"),
        Column("filter", "str", required=True, nullable=False,
               choices=("u", "g", "r", "i", "z", "y"), description="band"),
        Column("seeingFwhmGeom", "float64", "arcsec", required=True, nullable=False, low=0.0,
               low_open=True, description="geometric FWHM of the PSF"),
        Column("seeingFwhmEff", "float64", "arcsec", required=True, nullable=False, low=0.0,
               low_open=True, description="effective FWHM of the PSF, for the noise"),
        Column("fiveSigmaDepth", "float64", "AB mag", required=True, nullable=False,
               description="5σ limiting magnitude of a point source"),
        Column("fieldRA", "float64", "deg", required=True, nullable=False, low=0.0, high=360.0,
               high_open=True, description="right ascension of the boresight"),
        Column("fieldDec", "float64", "deg", required=True, nullable=False, low=-90.0,
               high=90.0, description="declination of the boresight"),
        Column("rotSkyPos", "float64", "deg", required=True, nullable=False,
               description="sky rotation angle of the focal plane (``sso.footprint``)"),
    ),
    unique=("observationId",),
)
"""Visits (OpSim's names): what the simulator and the association read (:mod:`sso.cadence`)."""


_TRACKLET_ENDS = {"start": "first", "end": "last"}

TRACKLET = Schema(
    "Tracklet",
    (
        Column("tracklet_id", "int64", required=True, nullable=False,
               description="rank of the tracklet's time-ordered member list among all"),
        Column("night", "int64", required=True, nullable=False,
               description="the site's local night (MJD of its evening's date)"),
        Column("n_detections", "int64", required=True, nullable=False, low=1.0,
               description="detections in the tracklet"),
        Column("mjd_tai_start", "float64", "MJD (TAI)", required=True, nullable=False,
               description="time of the first detection"),
        Column("mjd_tai_end", "float64", "MJD (TAI)", required=True, nullable=False,
               description="time of the last detection"),
        Column("ra_start_deg", "float64", "deg", required=True, nullable=False,
               description="right ascension at the start (fitted for chains of 3 or more)"),
        Column("dec_start_deg", "float64", "deg", required=True, nullable=False,
               description="declination at the start"),
        Column("ra_end_deg", "float64", "deg", required=True, nullable=False,
               description="right ascension at the end"),
        Column("dec_end_deg", "float64", "deg", required=True, nullable=False,
               description="declination at the end"),
        Column("ra_rate_deg_per_day", "float64", "deg/day (with cos Dec)", required=True,
               description="dRA/dt · cos Dec at the mean position"),
        Column("dec_rate_deg_per_day", "float64", "deg/day", required=True,
               description="dDec/dt at the mean position"),
        Column("rate_err_deg_per_day", "float64", "deg/day", required=True, low=0.0,
               description="1σ error of each rate component, from the astrometric errors"),
        *(Column(f"obs_{end}_{axis}_au", "float64", "AU (heliocentric ICRF)", required=True,
                 nullable=False,
                 description=f"observer's {axis} at the {_TRACKLET_ENDS[end]} detection")
          for end in ("start", "end") for axis in "xyz"),
    ),
    unique=("tracklet_id",),
)
"""Tracklets (:func:`linking.make_tracklets`; the search reads them)."""


_OFFSETS = {
    "ephOffsetRa": "observed − predicted, East (with cos Dec)",
    "ephOffsetDec": "observed − predicted, North",
    "ephOffsetAlongTrack": "offset along the predicted motion",
    "ephOffsetCrossTrack": "offset across the motion (the motion turned +90° towards North)",
}

SSSOURCE = Schema(
    "SSSource",
    (
        Column("ssObjectId", "int64", required=True, nullable=False,
               description="the known object (from its MPC packed designation)"),
        Column("diaSourceId", "int64", required=True, nullable=False,
               description="the DIASource associated with it"),
        Column("ephRa", "float64", "deg", required=True, nullable=False, low=0.0, high=360.0,
               high_open=True, description="predicted right ascension (astrometric ICRF)"),
        Column("ephDec", "float64", "deg", required=True, nullable=False, low=-90.0, high=90.0,
               description="predicted declination"),
        Column("ephOffset", "float64", "arcsec", required=True, nullable=False, low=0.0,
               description="distance between the prediction and the DIASource"),
        *(Column(name, "float64", "arcsec", required=True, nullable=False,
                 description=_OFFSETS[name])
          for name in ("ephOffsetRa", "ephOffsetDec", "ephOffsetAlongTrack",
                       "ephOffsetCrossTrack")),
        Column("ephRateRa", "float64", "deg/day (with cos Dec)", required=True, nullable=False,
               description="predicted dRA/dt · cos Dec"),
        Column("ephRateDec", "float64", "deg/day", required=True, nullable=False,
               description="predicted dDec/dt"),
        Column("ephVmag", "float64", "mag", required=True,
               description="predicted V (H, G system)"),
        Column("phaseAngle", "float64", "deg", required=True, nullable=False, low=0.0,
               high=180.0, description="Sun–object–observer angle"),
        Column("elongation", "float64", "deg", required=True, nullable=False, low=0.0,
               high=180.0, description="Sun–observer–object angle"),
        Column("helioRange", "float64", "AU", required=True, nullable=False, low=0.0,
               low_open=True, description="Sun–object distance"),
        Column("topoRange", "float64", "AU", required=True, nullable=False, low=0.0,
               low_open=True, description="observer–object distance"),
        Column("diaDistanceRank", "int64", required=True, nullable=False, low=1.0,
               description="rank of this source's distance among the object's candidate "
                           "sources in the visit (1 = nearest)"),
    ),
    unique=("diaSourceId",),
)
"""Associations, one row per DIASource attached to a known object (Rubin's SSSource)."""


EPHEMERIS = Schema(
    "Ephemeris",
    (
        Column("object_id", "str", required=True, nullable=False,
               description="designation, from the orbit table"),
        Column("ssObjectId", "int64", required=True, nullable=False,
               description="Rubin's identifier, from the orbit table"),
        Column("mjd_utc", "float64", "MJD (UTC)", required=True, nullable=False,
               description="time of the observation"),
        Column("mjd_tdb", "float64", "MJD (TDB)", required=True, nullable=False,
               description="the same time in TDB"),
        Column("observatory_code", "str", required=True, nullable=False,
               description="MPC code of the observer"),
        # NaN from here on for an object whose propagation failed (its status says why).
        Column("ra_deg", "float64", "deg", required=True, low=0.0, high=360.0, high_open=True,
               description="astrometric ICRF right ascension, light-time corrected"),
        Column("dec_deg", "float64", "deg", required=True, low=-90.0, high=90.0,
               description="astrometric ICRF declination, light-time corrected"),
        Column("ra_rate_deg_per_day", "float64", "deg/day (with cos Dec)", required=True,
               description="dRA/dt · cos Dec"),
        Column("dec_rate_deg_per_day", "float64", "deg/day", required=True,
               description="dDec/dt"),
        Column("topo_range_au", "float64", "AU", required=True, low=0.0, low_open=True,
               description="observer–object distance at emission"),
        Column("helio_range_au", "float64", "AU", required=True, low=0.0, low_open=True,
               description="Sun–object distance at emission"),
        Column("light_time_days", "float64", "day", required=True, low=0.0,
               description="down-leg light time"),
        Column("phase_angle_deg", "float64", "deg", required=True, low=0.0, high=180.0,
               description="Sun–object–observer angle"),
        Column("elongation_deg", "float64", "deg", required=True, low=0.0, high=180.0,
               description="Sun–observer–object angle"),
        Column("v_mag", "float64", "mag", required=True,
               description="V in the IAU H, G system (NaN without H)"),
    ),
)
"""Topocentric ephemerides, one row per object and time (:func:`ephemerides.ephemeris`)."""


# A fitted heliocentric ICRF state, as the discoveries and the linkages carry it.
STATE_COLUMNS = tuple(
    Column(name, "float64", f"{unit} (heliocentric ICRF)", required=True, nullable=False,
           description=f"fitted {what} at ``epoch_mjd_tdb``")
    for name, unit, what in (("x_au", "AU", "position x"), ("y_au", "AU", "position y"),
                             ("z_au", "AU", "position z"),
                             ("vx_au_per_day", "AU/day", "velocity x"),
                             ("vy_au_per_day", "AU/day", "velocity y"),
                             ("vz_au_per_day", "AU/day", "velocity z")))

_COVARIANCE = "the state's 6×6 covariance, row-major"

DISCOVERED = Schema(
    "discovered",
    (
        Column("object_id", "str", required=True, nullable=False,
               description="temporary designation of the new object"),
        Column("discovered_night", "int64", "MJD of the night's noon", required=True,
               nullable=False, description="night of the discovery"),
        *STATE_COLUMNS,
        Column("epoch_mjd_tdb", "float64", "MJD (TDB)", required=True, nullable=False,
               description="epoch of the state"),
        Column("H", "float64", "mag", required=True, description="absolute magnitude"),
        Column("covariance", "object", "36 values of the state's covariance", required=True,
               description=_COVARIANCE),
    ),
    unique=("object_id",),
)
"""The nightly state's discoveries (``discovered.parquet``, :mod:`sso.night`)."""

CLAIMED = Schema(
    "claimed",
    (
        Column("diaSourceId", "int64", required=True, nullable=False,
               description="a window detection in a discovery's linkage"),
        Column("object_id", "str", required=True, nullable=False,
               description="the discovery that claimed it"),
        Column("discovered_night", "int64", "MJD of the night's noon", required=True,
               nullable=False, description="night of the discovery"),
    ),
    unique=("diaSourceId",),
)
"""The detections the state's discoveries claimed (``claimed.parquet``): each at most once."""


LINKAGE = Schema(
    "Linkage",
    (
        Column("linkage_id", "int64", required=True, nullable=False, low=0.0,
               description="0, 1, … in order of acceptance"),
        Column("n_detections", "int64", required=True, nullable=False, low=1.0,
               description="detections in the linkage"),
        Column("n_nights", "int64", required=True, nullable=False, low=1.0,
               description="nights with a detection"),
        Column("arc_days", "float64", "day", required=True, nullable=False, low=0.0,
               description="time from the first detection to the last"),
        Column("rms_arcsec", "float64", "arcsec", required=True, nullable=False, low=0.0,
               description="RMS of the fit's residuals"),
        Column("chi2", "float64", required=True, nullable=False, low=0.0,
               description="χ² of the fit"),
        Column("epoch_mjd_tdb", "float64", "MJD (TDB)", required=True, nullable=False,
               description="epoch of the fitted state"),
        *STATE_COLUMNS,
        # Osculating heliocentric ecliptic J2000 elements (a < 0 for a hyperbola).
        Column("a_au", "float64", "AU", required=True, nullable=False,
               description="osculating semi-major axis (heliocentric ecliptic J2000; "
                           "negative for a hyperbola)"),
        Column("e", "float64", required=True, nullable=False, low=0.0,
               description="eccentricity"),
        Column("inc_deg", "float64", "deg", required=True, nullable=False, low=0.0,
               high=180.0, description="inclination to the ecliptic"),
        Column("node_deg", "float64", "deg", required=True, nullable=False, low=0.0,
               high=360.0, high_open=True, description="longitude of the ascending node"),
        Column("argperi_deg", "float64", "deg", required=True, nullable=False, low=0.0,
               high=360.0, high_open=True, description="argument of perihelion"),
        Column("mean_anomaly_deg", "float64", "deg", required=True, nullable=False,
               description="mean anomaly at the epoch"),
        Column("covariance", "object", "36 values of the state's covariance (AU, day)",
               required=True, description=_COVARIANCE),
        Column("candidate_id", "int64", required=True, nullable=False, low=0.0,
               description="the HelioLinC3D candidate it came from"),
        Column("H", "float64", "mag", required=True,
               description="absolute magnitude for G = 0.15 (NaN without photometry)"),
    ),
    unique=("linkage_id",),
)
"""Linkages with their fitted orbits (:func:`linking.link`; ``sso link`` adds ``designation``)."""


UNASSOCIATED = Schema(
    "unassociated SSObject",
    (
        Column("visit", "int64", required=True, nullable=False,
               description="the visit's ``observationId``"),
        Column("ssObjectId", "int64", required=True, nullable=False,
               description="the known object"),
        Column("object_id", "str", required=True, nullable=False,
               description="its designation in the orbit table"),
        Column("midpointMjdTai", "float64", "MJD (TAI)", required=True, nullable=False,
               description="time of the prediction: the visit's midpoint"),
        Column("ephRa", "float64", "deg", required=True, nullable=False, low=0.0, high=360.0,
               high_open=True, description="predicted right ascension"),
        Column("ephDec", "float64", "deg", required=True, nullable=False, low=-90.0, high=90.0,
               description="predicted declination"),
        Column("ephRateRa", "float64", "deg/day (with cos Dec)", required=True, nullable=False,
               description="predicted dRA/dt · cos Dec"),
        Column("ephRateDec", "float64", "deg/day", required=True, nullable=False,
               description="predicted dDec/dt"),
        Column("ephVmag", "float64", "mag", required=True, description="predicted V"),
        Column("detector", "int64", required=True, nullable=False, low=0.0,
               description="the detector the prediction falls on"),
    ),
)
"""Known objects predicted on a visit's footprint, bright enough, that no DIASource matched."""


# Orbit elements by format, ecliptic and mean equinox of J2000, heliocentric (KEP, COM, CART)
# or barycentric (BKEP, BCOM, BCART). Rules between columns (a_au's sign against e) are
# :func:`ephemerides.orbits.validate_orbits`'s.
_ANGLE = dict(unit="deg", required=True, nullable=False)
_HELIOCENTRIC_ELEMENTS = {
    "KEP": (
        Column("a_au", "float64", "AU (negative for a hyperbola)", required=True,
               nullable=False, description="semi-major axis"),
        Column("e", "float64", required=True, nullable=False, low=0.0,
               description="eccentricity"),
        Column("inc_deg", "float64", low=0.0, high=180.0, **_ANGLE,
               description="inclination"),
        Column("node_deg", "float64", **_ANGLE, description="longitude of the ascending node"),
        Column("argperi_deg", "float64", **_ANGLE, description="argument of perihelion"),
        Column("mean_anomaly_deg", "float64", **_ANGLE,
               description="mean anomaly at the epoch"),
    ),
    "COM": (
        Column("q_au", "float64", "AU", required=True, nullable=False, low=0.0, low_open=True,
               description="perihelion distance"),
        Column("e", "float64", required=True, nullable=False, low=0.0,
               description="eccentricity"),
        Column("inc_deg", "float64", low=0.0, high=180.0, **_ANGLE,
               description="inclination"),
        Column("node_deg", "float64", **_ANGLE, description="longitude of the ascending node"),
        Column("argperi_deg", "float64", **_ANGLE, description="argument of perihelion"),
        Column("tp_mjd_tdb", "float64", "MJD (TDB)", required=True, nullable=False,
               description="time of perihelion passage"),
    ),
    "CART": tuple(
        Column(name, "float64", unit, required=True, nullable=False,
               description=f"{what} at the epoch")
        for name, unit, what in (("x_au", "AU", "position x"), ("y_au", "AU", "position y"),
                                 ("z_au", "AU", "position z"),
                                 ("vx_au_per_day", "AU/day", "velocity x"),
                                 ("vy_au_per_day", "AU/day", "velocity y"),
                                 ("vz_au_per_day", "AU/day", "velocity z"))),
}
ORBIT_ELEMENTS = {
    **_HELIOCENTRIC_ELEMENTS,
    **{"B" + kind: columns for kind, columns in _HELIOCENTRIC_ELEMENTS.items()},
}

ORBITS = {
    kind: Schema(
        f"{kind} orbit",
        (
            Column("object_id", "str", required=True, nullable=False,
                   description="the object's designation or name"),
            Column("ssObjectId", "int64", required=True, nullable=False,
                   description="the MPC packed designation's bytes as one integer, as Rubin "
                               "computes it"),
            Column("format", "str", required=True, nullable=False, choices=(kind,),
                   description="orbit format"),
            *elements,
            Column("epoch_mjd_tdb", "float64", "MJD (TDB)", required=True, nullable=False,
                   description="epoch of the elements"),
            Column("H", "float64", "mag", required=True, description="absolute magnitude"),
            Column("G", "float64", required=True, nullable=False,
                   description="slope parameter of the H, G system"),
        ),
    )
    for kind, elements in ORBIT_ELEMENTS.items()
}
"""Orbit tables, one schema per orbit format (:func:`ephemerides.read_orbits`); an object may
appear once per table where it is propagated
(:func:`ephemerides.orbits.check_unique_object_ids`)."""


ORBIT_UPDATES = Schema(
    "orbit updates",
    (
        Column("object_id", "str", required=True, nullable=False,
               description="the object refitted"),
        Column("night", "int64", "MJD of the night's noon", required=True, nullable=False,
               description="night of the refit"),
        *STATE_COLUMNS,
        Column("epoch_mjd_tdb", "float64", "MJD (TDB)", required=True, nullable=False,
               description="epoch of the state"),
        Column("covariance", "object", "36 values of the state's covariance", required=True,
               description=_COVARIANCE),
        Column("n_detections", "int64", required=True, nullable=False, low=1.0,
               description="detections the refit used"),
        Column("n_nights", "int64", required=True, nullable=False, low=1.0,
               description="nights with a detection"),
        Column("rms_arcsec", "float64", "arcsec", required=True, nullable=False, low=0.0,
               description="RMS of the refit's residuals"),
    ),
)
"""A discovery's orbit refitted on a later night with the detections attributed to it
(``orbit_updates.parquet``, :mod:`sso.night`): one row per object and night of update."""

ATTRIBUTED = Schema(
    "attributed",
    (
        Column("diaSourceId", "int64", required=True, nullable=False,
               description="the detection attributed"),
        Column("object_id", "str", required=True, nullable=False,
               description="the object it is attributed to"),
        Column("night", "int64", "MJD of the night's noon", required=True, nullable=False,
               description="night of the attribution"),
        Column("midpointMjdTai", "float64", "MJD (TAI)", required=True, nullable=False,
               description="time of the detection"),
        Column("ra", "float64", "deg", required=True, nullable=False, low=0.0, high=360.0,
               high_open=True, description="right ascension, ICRF"),
        Column("dec", "float64", "deg", required=True, nullable=False, low=-90.0, high=90.0,
               description="declination, ICRF"),
        Column("raErr", "float64", "deg", required=True, low=0.0,
               description="1σ error of ``ra``"),
        Column("decErr", "float64", "deg", required=True, low=0.0,
               description="1σ error of ``dec``"),
    ),
    unique=("diaSourceId",),
)
"""Detections of later nights attributed to the state's discoveries (``attributed.parquet``),
with what their orbit refits need."""

IDENTIFIED = Schema(
    "identified",
    (
        Column("object_id", "str", required=True, nullable=False,
               description="the new object's temporary designation"),
        Column("identified_as", "str", required=True, nullable=False,
               description="the earlier discovery or catalogue object it is"),
        Column("night", "int64", "MJD of the night's noon", required=True, nullable=False,
               description="night of the identification"),
    ),
    unique=("object_id",),
)
"""New objects found to be earlier discoveries (``identified.parquet``): the linkage's
temporary designation, the discovery it joined, and the night."""
