"""Topocentric astrometric ephemerides of known objects: RA/Dec, rates, distances, magnitudes.

Positions are astrometric ICRF with the down-leg light time iterated in the barycentric frame
(JPL Horizons' "astrometric RA/DEC": no aberration, no light deflection), the frame in which
survey DIASources are measured.
"""

import logging

import numpy as np
import pandas as pd

from ephemerides import _observation_kernels as kernels
from ephemerides.constants import C_AU_PER_DAY, GM_SUN_AU3_PER_DAY2
from ephemerides.errors import InputError
from ephemerides.observers import observer_states
from ephemerides.orbits import check_unique_object_ids
from ephemerides.photometry import hg_apparent_magnitude
from ephemerides.propagate import propagate_states
from ephemerides.schemas import EPHEMERIS
from ephemerides.spk import barycentric_states
from ephemerides.timescales import as_time, quiet_erfa

logger = logging.getLogger(__name__)

EPHEMERIS_COLUMNS = tuple(column.name for column in EPHEMERIS.columns)


# Light-time convergence: 1e-13 day is 8.6 ns, far below the 1 µs that moves a 10 deg/day
# object by 0.4 mas; the iteration contracts by v/c ~ 1e-4 per step.
_LIGHT_TIME_TOL_DAYS = 1e-13
_LIGHT_TIME_MAX_ITER = 10


def ephemeris(
    orbits: pd.DataFrame,
    times,
    observatory_code: str = "X05",
    time_scale: str = "utc",
    method: str = "nbody",
    pairs: bool = False,
) -> pd.DataFrame:
    """Predict topocentric astrometric positions of the objects in ``orbits`` at ``times``.

    Parameters
    ----------
    orbits : pandas.DataFrame
        Orbit table as returned by :func:`ephemerides.read_orbits` (any of its formats).
    times : array_like of float or astropy.time.Time
        Observation times: MJD in ``time_scale`` or a ``Time`` (its own scale is used).
    observatory_code : str
        MPC observatory code of the observer (``"500"`` is the geocentre).
    time_scale : {"utc", "tai", "tt", "tdb"}
        Scale of float ``times``.
    method : {"nbody", "2body"}
        Propagation from the orbit epoch to the observation time: "nbody" (default) integrates
        with the JPL planets, Moon, Pluto, GR and, when installed, 16 massive asteroids
        (:func:`ephemerides.propagate`); "2body" is heliocentric Kepler motion. Either way the
        short light-time interval before the observation is covered by Kepler motion from the
        propagated state at the observation time (perturbations over a few hours move an
        object by well under a metre).
    pairs : bool
        False (default): every object at every time. True: ``times`` has one entry per orbit row
        and row i of ``orbits`` is predicted at ``times[i]`` only (orbit rows may then repeat an
        object, e.g. one state per epoch).

    Returns
    -------
    pandas.DataFrame
        One row per object and time, sorted by (object_id, mjd_tdb), with exactly the columns of
        ``EPHEMERIS_COLUMNS``: times ``mjd_utc``, ``mjd_tdb`` (MJD); ``ra_deg``, ``dec_deg``
        astrometric ICRF (deg); ``ra_rate_deg_per_day`` (dRA/dt·cos Dec) and
        ``dec_rate_deg_per_day``; ``topo_range_au`` (observer–object at emission),
        ``helio_range_au`` (Sun–object at emission); ``light_time_days``; ``phase_angle_deg``
        (Sun–object–observer); ``elongation_deg`` (Sun–observer–object); ``v_mag`` (H, G system,
        NaN where H is unknown).
    """
    if not isinstance(orbits, pd.DataFrame) or len(orbits) == 0:
        raise InputError("orbits must be a non-empty orbit table (see ephemerides.read_orbits)")
    if not pairs:
        check_unique_object_ids(
            orbits, "; give one orbit per object, or pass pairs=True to predict each row at "
            "its own time"
        )
    t = as_time(times, time_scale)
    with quiet_erfa():
        mjd_tdb = np.atleast_1d(t.tdb.mjd).astype(np.float64)
        mjd_utc = np.atleast_1d(t.utc.mjd).astype(np.float64)
    n_obj, n_time = len(orbits), mjd_tdb.size
    if pairs and n_time != n_obj:
        raise InputError(
            f"pairs=True needs one time per orbit row: got {n_time} times for {n_obj} orbits"
        )

    helio, status = propagate_states(orbits, mjd_tdb, method=method, pairs=pairs)
    if status.any():
        failed = orbits["object_id"].to_numpy()[status != 0]
        logger.warning("%d object(s) failed to propagate and have NaN positions: %s",
                       failed.size, ", ".join(map(str, failed[:10])))
    observer = observer_states(observatory_code, mjd_tdb, origin="ssb", frame="equatorial")
    sun = barycentric_states("sun", mjd_tdb)

    if pairs:
        obj_idx = np.arange(n_obj)
        time_idx = np.arange(n_obj)
    else:
        obj_idx = np.repeat(np.arange(n_obj), n_time)
        time_idx = np.tile(np.arange(n_time), n_obj)

    columns = observables(
        helio.reshape(-1, 6),
        sun[time_idx],
        observer[time_idx],
        orbits["H"].to_numpy(np.float64)[obj_idx],
        orbits["G"].to_numpy(np.float64)[obj_idx],
    )
    table = pd.DataFrame(
        {
            "object_id": orbits["object_id"].to_numpy(dtype=object)[obj_idx],
            "ssObjectId": orbits["ssObjectId"].to_numpy(np.int64)[obj_idx],
            "mjd_utc": mjd_utc[time_idx],
            "mjd_tdb": mjd_tdb[time_idx],
            "observatory_code": str(observatory_code),
            **columns,
        },
        columns=list(EPHEMERIS_COLUMNS),
    )
    table["object_id"] = table["object_id"].astype(str)
    return table.sort_values(["object_id", "mjd_tdb"], kind="stable", ignore_index=True)


def observables(helio_t, sun_bary_t, obs_bary_t, H, G, mu=GM_SUN_AU3_PER_DAY2) -> dict:
    """Light-time corrected astrometric observables of objects seen by observers.

    Parameters
    ----------
    helio_t : (k, 6) ndarray
        Heliocentric ICRF state of each object at the observation time (AU, AU/day).
    sun_bary_t, obs_bary_t : (k, 6) ndarray
        Barycentric ICRF states of the Sun and of the observer at the observation time.
    H, G : (k,) ndarray
        Absolute magnitude and slope parameter.
    mu : float
        Gravitational parameter of the heliocentric 2-body motion over the light time.

    Returns
    -------
    dict of (k,) ndarrays keyed by the ephemeris column names (``ra_deg`` … ``v_mag``).
    See :func:`ephemerides._observation_kernels.observe` for the definitions.
    """
    out = np.empty((helio_t.shape[0], kernels.N_COLUMNS))
    kernels.observe(
        np.ascontiguousarray(helio_t, dtype=np.float64),
        np.ascontiguousarray(sun_bary_t, dtype=np.float64),
        np.ascontiguousarray(obs_bary_t, dtype=np.float64),
        float(mu), C_AU_PER_DAY, _LIGHT_TIME_TOL_DAYS, _LIGHT_TIME_MAX_ITER, out,
    )
    phase_deg = np.rad2deg(out[:, kernels.PHASE])
    return {
        "ra_deg": np.rad2deg(out[:, kernels.RA]),
        "dec_deg": np.rad2deg(out[:, kernels.DEC]),
        "ra_rate_deg_per_day": np.rad2deg(out[:, kernels.RA_RATE]),
        "dec_rate_deg_per_day": np.rad2deg(out[:, kernels.DEC_RATE]),
        "topo_range_au": out[:, kernels.TOPO_RANGE],
        "helio_range_au": out[:, kernels.HELIO_RANGE],
        "light_time_days": out[:, kernels.LIGHT_TIME],
        "phase_angle_deg": phase_deg,
        "elongation_deg": np.rad2deg(out[:, kernels.ELONGATION]),
        "v_mag": hg_apparent_magnitude(
            H, G, out[:, kernels.HELIO_RANGE], out[:, kernels.TOPO_RANGE], phase_deg
        ),
    }
