"""Propagation of orbit tables to requested times: N-body (default) or 2-body.

N-body: test particles in the barycentric ICRF frame under the Sun, planets, Moon and Pluto
(and the 16 massive asteroids of sb441-n16 when that package is installed), with the Sun's GR
term, integrated by IAS15 (:mod:`ephemerides.nbody`). 2-body: heliocentric Kepler motion.
"""

from functools import cache

import numpy as np
import pandas as pd

from ephemerides import nbody, spk
from ephemerides.constants import (
    AU_KM,
    BODY_RADIUS_KM,
    EQUATORIAL_TO_ECLIPTIC,
    GM_SUN_AU3_PER_DAY2,
)
from ephemerides.elements import cartesian_to_cometary, cartesian_to_keplerian, orbits_to_states
from ephemerides.errors import InputError
from ephemerides.orbits import check_unique_object_ids
from ephemerides.twobody import as_time_array, kepler_step, propagate_2body

METHODS = ("nbody", "2body")
FRAMES = ("ecliptic", "equatorial")
ORIGINS = ("sun", "ssb")
STATE_COLUMNS = ("x_au", "y_au", "z_au", "vx_au_per_day", "vy_au_per_day", "vz_au_per_day")

# Output memory per integration chunk: objects × times × 6 float64.
_CHUNK_BYTES = 256 * 2**20


SUN_RADIUS_AU = BODY_RADIUS_KM[10] / AU_KM


def sun_entry_times(states, epochs, radius_au: float = SUN_RADIUS_AU,
                    mu: float = GM_SUN_AU3_PER_DAY2) -> tuple[np.ndarray, np.ndarray]:
    """When each 2-body path first enters the sphere of ``radius_au`` about the Sun.

    Parameters
    ----------
    states : numpy.ndarray, shape (n, 6)
        Heliocentric states (AU, AU/day), outside the sphere, at ``epochs`` (MJD TDB).

    Returns
    -------
    ahead, behind : numpy.ndarray, shape (n,)
        The first time after the epoch the path is inside the sphere (on the way in to a
        perihelion below ``radius_au``), +inf when it never is; and the last time before the
        epoch it was (on the way out of such a perihelion; the path traced backwards enters
        there), -inf when it never was.
    """
    n = len(states)
    ahead, behind = np.full(n, np.inf), np.full(n, -np.inf)
    cometary = cartesian_to_cometary(states, epochs, mu)
    q, e = cometary[:, 0], cometary[:, 1]
    through = np.isfinite(q) & (q < radius_au)
    if not through.any():
        return ahead, behind
    keplerian = cartesian_to_keplerian(states[through], mu)
    a, mean_anomaly = keplerian[:, 0], np.radians(keplerian[:, 5])
    q, e, tp, epoch = q[through], e[through], cometary[through, 5], epochs[through]
    with np.errstate(invalid="ignore", divide="ignore"):
        # From the sphere to perihelion, by Kepler's equation for each conic.
        n_mean = np.sqrt(mu / np.abs(a) ** 3)
        big_e = np.arccos(np.clip((1.0 - radius_au / a) / e, -1.0, 1.0))
        big_h = np.arccosh(np.maximum((1.0 - radius_au / a) / e, 1.0))
        d = np.sqrt(radius_au / q - 1.0)
        to_perihelion = np.select(
            [e < 1.0, e > 1.0],
            [(big_e - e * np.sin(big_e)) / n_mean, (e * np.sinh(big_h) - big_h) / n_mean],
            np.sqrt(2.0 * q**3 / mu) * (d + d**3 / 3.0))
        # Perihelia next after and last before the epoch (an ellipse has one every period).
        elliptic = e < 1.0
        next_peri = np.where(elliptic, np.mod(-mean_anomaly, 2.0 * np.pi) / n_mean,
                             np.where(tp > epoch, tp - epoch, np.inf))
        last_peri = np.where(elliptic, np.mod(mean_anomaly, 2.0 * np.pi) / n_mean,
                             np.where(tp < epoch, epoch - tp, np.inf))
    ahead[through] = epoch + next_peri - to_perihelion
    behind[through] = epoch - (last_peri - to_perihelion)
    return ahead, behind


def _check_choice(value, allowed, argument):
    if value not in allowed:
        raise InputError(f"{argument}={value!r} is not supported; use one of {allowed}")
    return value


def _perturber_numbers(object_ids, perturbers) -> np.ndarray:
    """NAIF id of each orbit that is itself one of the massive asteroid perturbers, else 0.

    An object is matched by its MPC number as written in ``object_id``: plain, zero-padded
    packed, or in parentheses (e.g. '1', '00001' or '(1)' → Ceres, NAIF 2000001).
    """
    spellings = {}
    for naif in (int(i) for i in perturbers.naif_ids if int(i) > 2_000_000):
        number = naif - 2_000_000
        for text in (str(number), f"{number:05d}", f"({number})"):
            spellings[text] = naif
    ids = pd.Series(object_ids, dtype=object).astype(str).str.strip()
    return ids.map(spellings).fillna(0).to_numpy(dtype=np.int64)


def perturbers_for(object_id: str) -> spk.SpkEphemeris:
    """The N-body force model's bodies for one object: all of them, less the object itself
    when it is one of the massive asteroid perturbers (matched as :func:`_perturber_numbers`
    does), which would otherwise attract itself."""
    perturbers = spk.load_perturbers()
    itself = int(_perturber_numbers([object_id], perturbers)[0])
    return _without(perturbers, itself) if itself else perturbers


@cache
def _without(perturbers: spk.SpkEphemeris, naif_id: int) -> spk.SpkEphemeris:
    """The same perturbers less one body (read once per process)."""
    keep = [int(i) for i in perturbers.naif_ids if int(i) != naif_id]
    return spk.load_spk(perturbers.kernels, keep)


def _integrate_groups(states, epochs, times, rows, perturbers, pairs, out, status) -> None:
    """Integrate ``rows`` (grouped by epoch, chunked by output memory) into ``out``/``status``."""
    for epoch in np.unique(epochs[rows]):
        group = rows[epochs[rows] == epoch]
        if pairs:
            group_times, where = np.unique(times[group], return_inverse=True)
        else:
            group_times = times
        per_chunk = max(1, _CHUNK_BYTES // (48 * group_times.size))
        for start in range(0, group.size, per_chunk):
            chunk = group[start:start + per_chunk]
            result, chunk_status = nbody.integrate(states[chunk], float(epoch), group_times,
                                                   perturbers=perturbers)
            status[chunk] = chunk_status
            if pairs:
                out[chunk, 0] = result[np.arange(chunk.size), where[start:start + per_chunk]]
            else:
                out[chunk] = result


def propagate_states(orbits: pd.DataFrame, mjd_tdb, method: str = "nbody", pairs: bool = False,
                     massive_asteroids: str = "integrate"):
    """Heliocentric ICRF states of every orbit at the requested times.

    Parameters
    ----------
    orbits : pandas.DataFrame
        Orbit table (:func:`ephemerides.read_orbits` schema).
    mjd_tdb : array_like, shape (m,)
        Times, MJD (TDB).
    method : {"nbody", "2body"}
    pairs : bool
        False: every orbit at every time, result (n, m, 6). True: orbit i at time i only
        (m == n), result (n, 1, 6).
    massive_asteroids : {"integrate", "kernel"}
        How to treat an orbit of one of the asteroid perturbers (matched by MPC number):
        integrate it without its own attraction (default), or read it from sb441-n16.bsp. The
        kernel's 2021 solutions can lie far from a newer orbit: its (2) Pallas is 83 km from
        Horizons' in 2015, so the catalogue's own orbit is the better default.

    Returns
    -------
    states : numpy.ndarray, shape (n, m, 6) or (n, 1, 6)
        Heliocentric ICRF positions (AU) and velocities (AU/day).
    status : numpy.ndarray of int8, shape (n,)
        Per-object status codes of :data:`ephemerides.nbody.STATUS` (0 = ok); failed objects
        have NaN states from the failure on.
    """
    _check_choice(method, METHODS, "method")
    _check_choice(massive_asteroids, ("integrate", "kernel"), "massive_asteroids")
    times = as_time_array(mjd_tdb, "mjd_tdb")
    n = len(orbits)
    if pairs and times.size != n:
        raise InputError(f"pairs=True needs one time per orbit row: got {times.size} for {n}")
    status = np.zeros(n, dtype=np.int8)
    perturbers = spk.load_perturbers()
    # The times and epochs of both methods within the planetary ephemeris' span.
    spk.check_coverage(perturbers, times)
    if method == "2body":
        states, epochs = orbits_to_states(orbits, frame="equatorial", origin="sun")
        spk.check_coverage(perturbers, epochs)
        # A state inside the Sun has impacted (its Kepler motion is singular); an orbit whose
        # Kepler solution is not finite is degenerate. Both are flagged, not propagated.
        inside = np.linalg.norm(states[:, :3], axis=1) < SUN_RADIUS_AU
        status[inside] = nbody.IMPACT
        good = ~inside
        out = np.full((n, 1 if pairs else times.size, 6), np.nan)
        if pairs:
            out[good, 0] = kepler_step(states[good], times[good] - epochs[good])
        else:
            out[good] = propagate_2body(states[good], epochs[good], times)
        # A rectilinear path (no angular momentum) has no conic to follow through the Sun.
        rectilinear = np.linalg.norm(np.cross(states[:, :3], states[:, 3:]), axis=1) == 0.0
        degenerate = good & (rectilinear | ~np.isfinite(out).all(axis=(1, 2)))
        status[degenerate] = nbody.DEGENERATE
        out[degenerate] = np.nan
        # A path through the Sun ends where it enters it (Kepler motion would go on through).
        good &= ~degenerate
        ahead, behind = np.full(n, np.inf), np.full(n, -np.inf)
        ahead[good], behind[good] = sun_entry_times(states[good], epochs[good])
        at = times[:, None] if pairs else np.broadcast_to(times, (n, times.size))
        ended = (at > ahead[:, None]) | (at < behind[:, None])
        status[ended.any(axis=1)] = nbody.IMPACT
        out[ended] = np.nan
        return out, status

    states, epochs = orbits_to_states(orbits, frame="equatorial", origin="ssb")
    spk.check_coverage(perturbers, epochs)
    out = np.full((n, 1 if pairs else times.size, 6), np.nan)
    itself = _perturber_numbers(orbits["object_id"].to_numpy(), perturbers)
    for naif_id in np.unique(itself):
        group = np.flatnonzero(itself == naif_id)
        if naif_id and massive_asteroids == "kernel":
            body = int(np.flatnonzero(perturbers.naif_ids == naif_id)[0])
            for row in group:
                row_times = times[row:row + 1] if pairs else times
                out[row] = spk.states(perturbers, row_times)[:, body]
            continue
        # An orbit of one of the perturbers is integrated without that body's own attraction.
        model = _without(perturbers, int(naif_id)) if naif_id else perturbers
        _integrate_groups(states, epochs, times, group, model, pairs, out, status)

    # Barycentric -> heliocentric.
    sun = spk.states(perturbers, times)[:, 0]
    if pairs:
        out[:, 0] -= sun
    else:
        out -= sun[None, :, :]
    return out, status


def propagate(
    orbits: pd.DataFrame,
    mjd_tdb,
    method: str = "nbody",
    frame: str = "ecliptic",
    origin: str = "sun",
    massive_asteroids: str = "integrate",
) -> pd.DataFrame:
    """Propagate every orbit of an orbit table to every requested time.

    Parameters
    ----------
    orbits : pandas.DataFrame
        Orbit table as returned by :func:`ephemerides.read_orbits` (any of its formats).
    mjd_tdb : float or array_like
        Output times, MJD (TDB), in any order.
    method : {"nbody", "2body"}
        "nbody" (default): integration with the JPL planets, Moon, Pluto, the Sun's GR term and,
        when installed, 16 massive asteroids. "2body": heliocentric Kepler motion.
    frame : {"ecliptic", "equatorial"}
        Ecliptic and mean equinox of J2000 (default, as MPC and Horizons) or ICRF axes.
    origin : {"sun", "ssb"}
        Heliocentric (default) or barycentric states.
    massive_asteroids : {"integrate", "kernel"}
        For an orbit of one of the 16 asteroid perturbers: integrate it without its own
        attraction (default) or read it from sb441-n16.bsp (see :func:`propagate_states`).

    Returns
    -------
    pandas.DataFrame
        One row per object and time, sorted by (object_id, mjd_tdb): ``object_id``,
        ``mjd_tdb``, ``x_au, y_au, z_au`` (AU), ``vx_au_per_day, vy_au_per_day,
        vz_au_per_day`` (AU/day) and ``status``: "ok" for a valid state, else why its object
        failed (impact, escape, step-size collapse, a degenerate 2-body orbit), with NaN
        states from the failure on.
    """
    _check_choice(frame, FRAMES, "frame")
    _check_choice(origin, ORIGINS, "origin")
    check_unique_object_ids(orbits)
    times = as_time_array(mjd_tdb, "mjd_tdb")
    helio, status = propagate_states(orbits, times, method=method,
                                     massive_asteroids=massive_asteroids)
    n, m = helio.shape[:2]
    states = helio.reshape(-1, 6)
    if origin == "ssb":
        sun = spk.states(spk.load_perturbers(), times)[:, 0]
        states = states + np.tile(sun, (n, 1))
    if frame == "ecliptic":
        # A plain rotation (not elements.equatorial_to_ecliptic, which refuses NaN rows).
        states = np.hstack([states[:, :3] @ EQUATORIAL_TO_ECLIPTIC.T,
                            states[:, 3:] @ EQUATORIAL_TO_ECLIPTIC.T])
    table = pd.DataFrame(states, columns=list(STATE_COLUMNS))
    table.insert(0, "mjd_tdb", np.tile(times, n))
    table.insert(0, "object_id", np.repeat(orbits["object_id"].astype(str).to_numpy(), m))
    # Per row: a finite state is valid ("ok"), even for an object that fails later on.
    failure = np.repeat(np.array([nbody.STATUS[int(s)] for s in status], dtype=object), m)
    table["status"] = np.where(np.isfinite(states).all(axis=1), "ok", failure)
    return table.sort_values(["object_id", "mjd_tdb"], kind="stable", ignore_index=True)
