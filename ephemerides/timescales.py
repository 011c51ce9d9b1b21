"""Time-scale conversions (UTC, TAI, TT, TDB) on float MJD arrays, through astropy.

Dynamics run in TDB; DIASources carry TAI, MPC formats UTC, MPCORB epochs TT. Conversions
happen only at those boundaries, here. astropy is configured never to download: Earth
orientation and leap seconds come from the tables bundled in ``astropy-iers-data``.
"""

import warnings
from contextlib import contextmanager

import numpy as np
from astropy.time import Time
from astropy.utils import iers
from erfa import ErfaWarning

from ephemerides.errors import InputError

# Never reach the network: use the IERS tables shipped with astropy-iers-data. Times past the
# end of the bundled predictions fall back to astropy's degraded (IAU 2000 model, UT1 = UTC)
# Earth orientation with a warning rather than a download.
iers.conf.auto_download = False
iers.conf.auto_max_age = None
iers.conf.iers_degraded_accuracy = "warn"

TIME_SCALES = ("utc", "tai", "tt", "tdb")
# Times the toolkit takes, MJD: the span of its planetary ephemeris DE440 (1550-01-01 to
# 2650-01-22); far beyond it ERFA cannot even place UTC.
MJD_RANGE = (-112_000.0, 288_000.0)


def _check_scale(scale: str, argument: str) -> str:
    scale = str(scale).lower()
    if scale not in TIME_SCALES:
        raise InputError(
            f"{argument}={scale!r} is not a time scale we convert; use one of {TIME_SCALES}"
        )
    return scale


def as_time(times, time_scale: str = "utc") -> Time:
    """Return an astropy ``Time`` for ``times`` (float MJD in ``time_scale``, or a ``Time``)."""
    if isinstance(times, Time):
        return times
    mjd = np.atleast_1d(np.asarray(times, dtype=np.float64))
    if not np.all(np.isfinite(mjd)):
        raise InputError("times must be finite MJD values; found NaN or infinity")
    outside = (mjd < MJD_RANGE[0]) | (mjd > MJD_RANGE[1])
    if outside.any():
        raise InputError(
            f"times must lie in MJD {MJD_RANGE[0]:,.0f} to {MJD_RANGE[1]:,.0f} (1550 to 2650, "
            f"the span of the planetary ephemeris de440.bsp); got {mjd[outside][0]!r}")
    return Time(mjd, format="mjd", scale=_check_scale(time_scale, "time_scale"))


@contextmanager
def quiet_erfa():
    """Conversions of UTC after the last leap second ERFA knows (a few years ahead), without
    its "dubious year" warning on every one: that UTC is a prediction, harmless at our
    precision (a future leap second shifts it by 1 s, which no caller can know either)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*dubious year", category=ErfaWarning)
        yield


def convert_mjd(mjd, from_scale: str, to_scale: str) -> np.ndarray:
    """Convert float MJD values between the UTC, TAI, TT and TDB time scales.

    Parameters
    ----------
    mjd : array_like
        Modified Julian Dates in ``from_scale``.
    from_scale, to_scale : {"utc", "tai", "tt", "tdb"}

    Returns
    -------
    numpy.ndarray
        float64 MJD in ``to_scale``; the two-part astropy representation is used internally, so
        precision is ~1 µs or better, not limited by a single float's 1e-16 relative resolution
        of the input.
    """
    to_scale = _check_scale(to_scale, "to_scale")
    t = as_time(mjd, _check_scale(from_scale, "from_scale"))
    with quiet_erfa():
        return getattr(t, to_scale).mjd.astype(np.float64)


def to_mjd_tdb(times, time_scale: str = "utc") -> np.ndarray:
    """Float MJD in TDB for ``times`` given as MJD in ``time_scale`` or as an astropy ``Time``."""
    with quiet_erfa():
        return as_time(times, time_scale).tdb.mjd.astype(np.float64)
