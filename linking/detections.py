"""Validation of DiaSource-style detection tables before linking.

:func:`prepare_detections` is the one door through which detections enter ``linking``: it checks
the schema (column names follow Rubin's DiaSource), adds the heliocentric observer position of
each detection and the local night it belongs to, and sorts the rows so that every later step
is independent of the caller's row order.
"""

import numpy as np
import pandas as pd

from ephemerides.errors import InputError
from ephemerides.observers import observatory, observer_states
from ephemerides.schemas import DIASOURCE
from ephemerides.timescales import convert_mjd

OBSERVER_COLUMNS = ("observer_x_au", "observer_y_au", "observer_z_au")
# A trail measured with errors (sso.cutouts) and the exposure that made it.
TRAIL_COLUMNS = ("trailLength", "trailAngle", "trailLengthErr", "trailAngleErr",
                 "visitExposureTime_s")
# χ² with 2 degrees of freedom at 99.9 %: a point source's gain from a trail fit
# (``trailDeltaChi2``) exceeds it once in a thousand.
TRAILED_DELTA_CHI2 = 13.82
# A measured trail agrees with a motion within this many of its errors, each widened by a floor
# (the motion's own error, the exposure's timing).
TRAIL_SIGMAS = 5.0
TRAIL_FLOOR_ARCSEC = 0.05
TRAIL_FLOOR_DEG = 0.5


def measured_trail_tolerances(columns, rows: np.ndarray, length_tol_arcsec: float,
                              angle_tol_deg: float):
    """How the trails of ``rows`` are checked against a motion.

    ``columns`` maps column names to arrays (a DataFrame or a dict of arrays). Returns
    ``(measured, significant, length_tol, angle_tol)`` per row: ``measured`` where the trail
    has finite ``trailLengthErr``, ``trailAngleErr`` and ``trailDeltaChi2`` (:mod:`sso.cutouts`);
    ``significant`` where such a trail beats a point source (``trailDeltaChi2`` above
    :data:`TRAILED_DELTA_CHI2`) and its fit is not flagged (``trailFlags`` 0: a flagged fit says
    nothing of the motion); the tolerances ``TRAIL_SIGMAS`` × its errors (with the floors)
    where measured, else the fixed ``length_tol_arcsec`` and ``angle_tol_deg``.
    """
    n = rows.size
    measured = np.zeros(n, dtype=bool)
    significant = np.zeros(n, dtype=bool)
    length_tol = np.full(n, float(length_tol_arcsec))
    angle_tol = np.full(n, float(angle_tol_deg))
    if not {"trailLengthErr", "trailAngleErr", "trailDeltaChi2"} <= set(columns.keys()):
        return measured, significant, length_tol, angle_tol
    length_err = np.asarray(columns["trailLengthErr"], np.float64)[rows]
    angle_err = np.asarray(columns["trailAngleErr"], np.float64)[rows]
    gain = np.asarray(columns["trailDeltaChi2"], np.float64)[rows]
    measured = np.isfinite(length_err) & np.isfinite(angle_err) & np.isfinite(gain)
    significant = measured & (np.where(measured, gain, 0.0) > TRAILED_DELTA_CHI2)
    if "trailFlags" in columns.keys():
        flags = np.asarray(columns["trailFlags"], np.float64)[rows]
        significant &= ~(np.nan_to_num(flags) != 0)
    length_tol = np.where(measured, TRAIL_SIGMAS * np.hypot(length_err, TRAIL_FLOOR_ARCSEC),
                          length_tol)
    angle_tol = np.where(measured, TRAIL_SIGMAS * np.hypot(angle_err, TRAIL_FLOOR_DEG),
                         angle_tol)
    return measured, significant, length_tol, angle_tol


def _fail_rows(column: str, bad: np.ndarray, frame: pd.DataFrame, allowed: str) -> None:
    """Raise a ValueError naming ``column``, the first offending rows and what is allowed."""
    rows = np.flatnonzero(bad)
    if rows.size:
        shown = ", ".join(
            f"row {r} (diaSourceId={frame['diaSourceId'].iloc[r]}): {frame[column].iloc[r]!r}"
            for r in rows[:3]
        )
        more = f" and {rows.size - 3} more" if rows.size > 3 else ""
        raise InputError(f"column {column!r}: {allowed}; found {shown}{more}")


def local_night(mjd_utc, longitude_deg: float) -> np.ndarray:
    """Night number of each time: the MJD of the local date on which that night's evening falls.

    Parameters
    ----------
    mjd_utc : array_like
        Times, MJD in UTC (UT1 − UTC < 1 s is irrelevant here).
    longitude_deg : float
        East longitude of the site, degrees (any branch; wrapped to [−180°, 180°)).

    Returns
    -------
    numpy.ndarray of int64
        ``floor(mjd_utc + λ/360 − 0.5)`` with λ the wrapped longitude: nights change at local
        mean noon, so a whole observing night gets one number even where it spans an integer
        MJD (Chile: UTC 00:00 is 20:17 local).
    """
    longitude = (float(longitude_deg) + 180.0) % 360.0 - 180.0
    local_mjd = np.asarray(mjd_utc, dtype=np.float64) + longitude / 360.0
    return np.floor(local_mjd - 0.5).astype(np.int64)


def astrometric_sigma_arcsec(frame: pd.DataFrame, default_arcsec: float) -> np.ndarray:
    """Astrometric uncertainty per coordinate of each detection, arcsec: the mean of ``raErr``
    and ``decErr`` (degrees) where both are finite and positive, else ``default_arcsec``."""
    sigma = np.full(len(frame), float(default_arcsec))
    if {"raErr", "decErr"} <= set(frame.columns):
        given = 0.5 * (frame["raErr"].to_numpy(np.float64)
                       + frame["decErr"].to_numpy(np.float64)) * 3600.0
        ok = np.isfinite(given) & (given > 0)
        sigma[ok] = given[ok]
    return sigma


def _per_exposure(function, mjd: np.ndarray, *args) -> np.ndarray:
    """``function(times, *args)`` evaluated once per distinct time of ``mjd`` (the detections of
    an exposure share theirs) and spread back to every row."""
    times, which = np.unique(mjd, return_inverse=True)
    return function(times, *args)[which.ravel()]


def _heliocentric_positions(mjd_tdb: np.ndarray, code: str) -> np.ndarray:
    return observer_states(code, mjd_tdb, origin="sun", frame="equatorial")[:, :3]


def _add_observer(frame: pd.DataFrame, mjd_tdb: np.ndarray, codes: np.ndarray) -> None:
    """Heliocentric ICRF observer positions, computed once per distinct (site, time)."""
    positions = np.empty((len(frame), 3))
    for code in np.unique(codes):
        rows = np.flatnonzero(codes == code)
        positions[rows] = _per_exposure(_heliocentric_positions, mjd_tdb[rows], code)
    for k, column in enumerate(OBSERVER_COLUMNS):
        frame[column] = positions[:, k]


def prepare_detections(
    detections: pd.DataFrame,
    observatory_code: str | None = "X05",
    observatory_longitude_deg: float | None = None,
) -> pd.DataFrame:
    """Validate a DiaSource-style table and add the observer position and night of each row.

    Parameters
    ----------
    detections : pandas.DataFrame
        One row per detection. Required: ``diaSourceId`` (int64, unique), ``midpointMjdTai``
        (MJD, TAI), ``ra`` and ``dec`` (astrometric ICRF, degrees). Optional: ``raErr``,
        ``decErr`` (degrees), ``band``, ``psfFlux`` (nJy), ``trailLength`` (arcsec),
        ``trailAngle`` (degrees, North through East), ``visitExposureTime_s`` (seconds),
        ``observatoryCode`` (MPC code per row, overrides ``observatory_code``), the heliocentric
        ICRF observer position ``observer_x_au, observer_y_au, observer_z_au`` (used as given
        when present) and ``night`` (int, used as given when present).
    observatory_code : str or None
        MPC code of the site for rows without an ``observatoryCode``; default ``"X05"`` (Rubin).
        ``None`` when the observer positions are given explicitly.
    observatory_longitude_deg : float, optional
        East longitude (degrees) used for the night boundaries when no observatory code is known
        and the table has no ``night`` column.

    Returns
    -------
    pandas.DataFrame
        A copy with ``observer_x_au, observer_y_au, observer_z_au`` (heliocentric ICRF, AU, at
        the TDB equivalent of ``midpointMjdTai``) and ``night`` (int64: the MJD of the local date
        of the evening, nights changing at local mean noon, see :func:`local_night`), sorted by
        (``midpointMjdTai``, ``diaSourceId``) with a fresh RangeIndex.

    Raises
    ------
    ValueError
        Naming the column and offending rows: a missing required column, non-integer or
        duplicated ``diaSourceId``, NaN or infinite times or coordinates, Dec outside ±90°,
        negative trail lengths, partial observer-position columns, or no way to place the night
        boundaries.
    """
    if not isinstance(detections, pd.DataFrame):
        raise TypeError(
            f"detections must be a pandas DataFrame; got {type(detections).__name__}"
        )
    frame = DIASOURCE.check(detections, "detections")
    frame = frame.sort_values(["midpointMjdTai", "diaSourceId"], kind="mergesort")
    frame = frame.reset_index(drop=True)

    present = [c for c in OBSERVER_COLUMNS if c in frame.columns]
    if present and len(present) != len(OBSERVER_COLUMNS):
        raise InputError(
            f"explicit observer positions need all of {list(OBSERVER_COLUMNS)} (heliocentric "
            f"ICRF, AU); got only {present}"
        )
    if "observatoryCode" in frame.columns:
        codes = frame["observatoryCode"].astype(object).to_numpy()
        missing_code = pd.isna(codes)
        if missing_code.any():
            if observatory_code is None:
                _fail_rows("observatoryCode", missing_code, frame,
                           "must be set on every row when observatory_code=None")
            codes[missing_code] = observatory_code
        codes = np.array([str(c).strip().upper() for c in codes], dtype=object)
    elif observatory_code is not None:
        codes = np.full(len(frame), str(observatory_code).strip().upper(), dtype=object)
    else:
        codes = None

    if codes is not None:
        frame["observatoryCode"] = codes
    if present:
        for column in OBSERVER_COLUMNS:
            _fail_rows(column, ~np.isfinite(frame[column].to_numpy(np.float64)), frame,
                       "explicit observer positions must be finite (AU)")
    elif codes is None:
        raise InputError(
            "no observer: give observatory_code (an MPC code such as 'X05'), an "
            "'observatoryCode' column, or explicit heliocentric ICRF positions in "
            f"{list(OBSERVER_COLUMNS)}"
        )
    else:
        mjd_tdb = _per_exposure(convert_mjd, frame["midpointMjdTai"].to_numpy(np.float64),
                                "tai", "tdb")
        _add_observer(frame, mjd_tdb, codes)

    if "night" in frame.columns:
        night = frame["night"].to_numpy()
        if not pd.api.types.is_integer_dtype(night.dtype):
            raise InputError(
                f"column 'night' must hold integers (local date of the evening, MJD); got dtype "
                f"{night.dtype}"
            )
        frame["night"] = night.astype(np.int64)
    else:
        mjd_utc = _per_exposure(convert_mjd, frame["midpointMjdTai"].to_numpy(np.float64),
                                "tai", "utc")
        if codes is not None:
            night = np.empty(len(frame), dtype=np.int64)
            for code in np.unique(codes):
                rows = codes == code
                night[rows] = local_night(mjd_utc[rows], observatory(code).longitude_deg)
        elif observatory_longitude_deg is not None:
            night = local_night(mjd_utc, observatory_longitude_deg)
        else:
            raise InputError(
                "with explicit observer positions and no observatory code the night boundaries "
                "are unknown: add a 'night' column (int, MJD of the local evening) or pass "
                "observatory_longitude_deg (east longitude of the site, degrees) so that nights "
                "change at local noon"
            )
        frame["night"] = night
    return frame


def usable_trails(frame: pd.DataFrame, min_sigma: float) -> np.ndarray:
    """Which prepared detections carry a trail that gives their motion: ``TRAIL_COLUMNS``
    finite, the length at least ``min_sigma`` of its error, the fit better than a point source
    (``trailDeltaChi2`` above :data:`TRAILED_DELTA_CHI2`) and unflagged (``trailFlags`` 0)
    where those columns exist, and an observatory code to place the observer at the trail's
    ends (all False for tables without those)."""
    if not set(TRAIL_COLUMNS) <= set(frame.columns) or "observatoryCode" not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    values = {c: frame[c].to_numpy(np.float64) for c in TRAIL_COLUMNS}
    with np.errstate(invalid="ignore"):
        ok = np.logical_and.reduce([np.isfinite(v) for v in values.values()])
        ok &= (values["trailLengthErr"] > 0) & (values["visitExposureTime_s"] > 0)
        ok &= values["trailLength"] >= min_sigma * values["trailLengthErr"]
        if "trailDeltaChi2" in frame.columns:
            ok &= frame["trailDeltaChi2"].to_numpy(np.float64) > TRAILED_DELTA_CHI2
    if "trailFlags" in frame.columns:
        ok &= frame["trailFlags"].fillna(0).to_numpy() == 0
    return ok


def trail_ends(frame: pd.DataFrame, rows: np.ndarray, default_sigma_arcsec: float):
    """The two ends of the trails of ``rows`` (prepared detections with usable trails): where
    the object was at the exposure's start and end if it moved towards ``trailAngle`` (the
    other sense swaps them). Returns (times MJD TAI (n, 2), unit vectors (n, 2, 3), observer
    positions (n, 2, 3) heliocentric ICRF AU, σ of each end arcsec (n,)): the detection's own
    σ (or ``default_sigma_arcsec``) with half the length's error and half the length times the
    angle's error."""
    rows = np.asarray(rows, dtype=np.int64)
    mid = frame["midpointMjdTai"].to_numpy(np.float64)[rows]
    half_exposure = 0.5 * frame["visitExposureTime_s"].to_numpy(np.float64)[rows] / 86400.0
    times = np.stack([mid - half_exposure, mid + half_exposure], axis=1)
    ra = np.deg2rad(frame["ra"].to_numpy(np.float64)[rows])
    dec = np.deg2rad(frame["dec"].to_numpy(np.float64)[rows])
    centre = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=1)
    east = np.stack([-np.sin(ra), np.cos(ra), np.zeros_like(ra)], axis=1)
    north = np.stack([-np.sin(dec) * np.cos(ra), -np.sin(dec) * np.sin(ra), np.cos(dec)],
                     axis=1)
    angle = np.deg2rad(frame["trailAngle"].to_numpy(np.float64)[rows])
    length = frame["trailLength"].to_numpy(np.float64)[rows]
    half = np.deg2rad(0.5 * length / 3600.0)
    towards = np.sin(angle)[:, None] * east + np.cos(angle)[:, None] * north
    ends = np.stack([np.cos(half)[:, None] * centre - np.sin(half)[:, None] * towards,
                     np.cos(half)[:, None] * centre + np.sin(half)[:, None] * towards], axis=1)
    codes = frame["observatoryCode"].to_numpy()[rows]
    observers = np.empty((rows.size, 2, 3))
    tdb = convert_mjd(times.ravel(), "tai", "tdb").reshape(-1, 2)
    for code in np.unique(codes):
        mine = np.flatnonzero(codes == code)
        observers[mine] = _heliocentric_positions(tdb[mine].ravel(), code).reshape(-1, 2, 3)
    sigma = astrometric_sigma_arcsec(frame.iloc[rows], default_sigma_arcsec)
    spread = np.hypot(0.5 * frame["trailLengthErr"].to_numpy(np.float64)[rows],
                      0.5 * length * np.deg2rad(frame["trailAngleErr"].to_numpy(np.float64)[rows]))
    return times, ends, observers, np.hypot(sigma, spread)
