"""Orbital elements ↔ cartesian states, ecliptic ↔ equatorial axes, heliocentric ↔ barycentric.

Public units: AU, days, degrees, AU³/day²; times MJD in TDB. Element sets:

- Keplerian (a, e, i, Ω, ω, M). Hyperbolas have a < 0 and the hyperbolic mean anomaly
  ``M = e sinh F − F = n (t − tp)`` with ``n = √(μ/|a|³)``; parabolas (e = 1) have no
  Keplerian form.
- Cometary (q, e, i, Ω, ω, tp) at an epoch, valid for every conic including e = 1.

Conventions for angles that the geometry leaves undefined: Ω = 0 when i = 0 or 180° exactly
(ω then counts from the +x axis); ω = 0 when e = 0 exactly (M then counts from the node). The
mean anomaly returned is signed, counted from the nearest perihelion (elliptic M in [−180, 180]),
so that near-parabolic orbits keep full precision just before perihelion; any M is accepted as
input. See ``ephemerides._elements_kernels`` for the method: one universal-variable formulation
for all conics, as accurate at e = 0.999999 or 1.000001 as at e = 0.5.

Frames: "ecliptic" is the ecliptic and mean equinox of J2000 of the MPC, Horizons and Sorcha
(obliquity 84381.448″ from ICRF); "equatorial" is ICRF. Origins: "sun" (heliocentric) and "ssb"
(solar-system barycentre), the Sun's barycentric state coming from DE440.
"""

import numpy as np
import pandas as pd

from ephemerides._elements_kernels import (
    cometary_to_states,
    keplerian_to_states,
    states_to_cometary,
    states_to_keplerian,
)
from ephemerides.constants import (
    ECLIPTIC_TO_EQUATORIAL,
    EQUATORIAL_TO_ECLIPTIC,
    GM_SOLAR_SYSTEM_AU3_PER_DAY2,
    GM_SUN_AU3_PER_DAY2,
)
from ephemerides.errors import InputError
from ephemerides.orbits import ELEMENT_COLUMNS, ORBIT_FORMATS
from ephemerides.spk import barycentric_states
from ephemerides.twobody import as_state_array, as_time_array, checked_mu

FRAMES = ("ecliptic", "equatorial")
ORIGINS = ("sun", "ssb")


def _element_columns(names, values) -> np.ndarray:
    """Broadcast the named 1-D element arrays to a common length; (n, 6) contiguous float64."""
    arrays = [np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in values]
    for name, arr in zip(names, arrays, strict=True):
        if arr.ndim != 1:
            raise InputError(f"{name} must be a scalar or a 1-D array; got shape {arr.shape}")
    try:
        columns = np.broadcast_arrays(*arrays)
    except ValueError:
        shapes = ", ".join(f"{n}: {a.shape}" for n, a in zip(names, arrays, strict=True))
        raise InputError(
            f"element arrays must have one common length (or be scalars); got {shapes}"
        ) from None
    table = np.ascontiguousarray(np.stack(columns, axis=1))
    finite = np.isfinite(table)
    if not finite.all():
        bad = [n for n, ok in zip(names, finite.all(axis=0), strict=True) if not ok]
        raise InputError(f"NaN or infinite values in {', '.join(bad)}; drop or repair those orbits")
    return table


def _check_angles(table: np.ndarray) -> None:
    """Shared checks of e (column 1) and inclination in degrees (column 2)."""
    e, inc = table[:, 1], table[:, 2]
    if (e < 0.0).any():
        raise InputError(f"eccentricity e must be >= 0; got min(e) = {e.min()!r}")
    if ((inc < 0.0) | (inc > 180.0)).any():
        raise InputError(
            f"inc_deg must lie in [0, 180] degrees; got values in [{inc.min()!r}, {inc.max()!r}]"
        )


def _to_radians(table: np.ndarray) -> np.ndarray:
    out = table.copy()
    out[:, 2:5] = np.deg2rad(out[:, 2:5])
    return out


def keplerian_to_cartesian(
    a_au, e, inc_deg, node_deg, argperi_deg, mean_anomaly_deg, mu: float = GM_SUN_AU3_PER_DAY2
) -> np.ndarray:
    """Cartesian states from Keplerian elements (ellipses and hyperbolas).

    Parameters
    ----------
    a_au : float or array_like, shape (n,)
        Semi-major axis, AU: positive for e < 1, negative for e > 1.
    e : float or array_like
        Eccentricity, >= 0 and != 1 (use ``cometary_to_cartesian`` for parabolas).
    inc_deg, node_deg, argperi_deg : float or array_like
        Inclination (0–180), longitude of the ascending node, argument of perihelion, degrees.
    mean_anomaly_deg : float or array_like
        Mean anomaly, degrees (any value; hyperbolic M = e sinh F − F).
    mu : float, optional
        Gravitational parameter, AU³/day². Default: GM_sun of DE440.

    Returns
    -------
    numpy.ndarray, shape (n, 6)
        x, y, z (AU), vx, vy, vz (AU/day), in the frame the angles refer to, relative to the
        attracting body.
    """
    names = ("a_au", "e", "inc_deg", "node_deg", "argperi_deg", "mean_anomaly_deg")
    table = _element_columns(names, (a_au, e, inc_deg, node_deg, argperi_deg, mean_anomaly_deg))
    _check_angles(table)
    a, ecc = table[:, 0], table[:, 1]
    if (ecc == 1.0).any():
        raise InputError(
            "e = 1 (parabola) has no finite semi-major axis or mean anomaly; give the orbit as "
            "cometary elements (q, e, ..., tp) to cometary_to_cartesian"
        )
    wrong_sign = ((ecc < 1.0) & (a <= 0.0)) | ((ecc > 1.0) & (a >= 0.0))
    if wrong_sign.any():
        i = int(np.flatnonzero(wrong_sign)[0])
        raise InputError(
            f"a_au must be > 0 for ellipses (e < 1) and < 0 for hyperbolas (e > 1); "
            f"row {i} has a_au = {a[i]!r}, e = {ecc[i]!r}"
        )
    elements = _to_radians(table)
    elements[:, 5] = np.deg2rad(table[:, 5])
    out = np.empty((table.shape[0], 6))
    keplerian_to_states(elements, checked_mu(mu), out)
    return out


def cometary_to_cartesian(
    q_au,
    e,
    inc_deg,
    node_deg,
    argperi_deg,
    tp_mjd_tdb,
    epoch_mjd_tdb,
    mu: float = GM_SUN_AU3_PER_DAY2,
) -> np.ndarray:
    """Cartesian states at ``epoch_mjd_tdb`` from cometary elements (every conic type).

    Parameters
    ----------
    q_au : float or array_like, shape (n,)
        Perihelion distance, AU, > 0.
    e : float or array_like
        Eccentricity, >= 0 (e = 1 is a parabola).
    inc_deg, node_deg, argperi_deg : float or array_like
        Inclination (0–180), longitude of the ascending node, argument of perihelion, degrees.
    tp_mjd_tdb : float or array_like
        Time of perihelion passage, MJD (TDB).
    epoch_mjd_tdb : float or array_like
        Epoch of the returned states, MJD (TDB).
    mu : float, optional
        Gravitational parameter, AU³/day². Default: GM_sun of DE440.

    Returns
    -------
    numpy.ndarray, shape (n, 6)
        x, y, z (AU), vx, vy, vz (AU/day) at the epochs.
    """
    names = ("q_au", "e", "inc_deg", "node_deg", "argperi_deg", "tp_mjd_tdb", "epoch_mjd_tdb")
    table = _element_columns(
        names, (q_au, e, inc_deg, node_deg, argperi_deg, tp_mjd_tdb, epoch_mjd_tdb)
    )
    _check_angles(table)
    if (table[:, 0] <= 0.0).any():
        raise InputError(f"q_au must be > 0; got min(q_au) = {table[:, 0].min()!r}")
    elements = np.ascontiguousarray(_to_radians(table)[:, :6])
    epochs = np.ascontiguousarray(table[:, 6])
    out = np.empty((table.shape[0], 6))
    cometary_to_states(elements, epochs, checked_mu(mu), out)
    return out


def _states_for_elements(states) -> np.ndarray:
    arr = as_state_array(states)
    r = np.linalg.norm(arr[:, :3], axis=1)
    h = np.linalg.norm(np.cross(arr[:, :3], arr[:, 3:]), axis=1)
    degenerate = (r == 0.0) | (h == 0.0)
    if degenerate.any():
        i = int(np.flatnonzero(degenerate)[0])
        raise InputError(
            f"state row {i} has zero position or zero angular momentum (r x v = 0): a rectilinear "
            "trajectory has no orbital plane, so its elements are undefined"
        )
    return arr


def _degrees(elements: np.ndarray, last_is_angle: bool) -> np.ndarray:
    out = elements.copy()
    out[:, 2:5] = np.rad2deg(out[:, 2:5])
    if last_is_angle:
        out[:, 5] = np.rad2deg(out[:, 5])
    # Radian values just below 2 pi can round to exactly 360 degrees.
    out[:, 3:5] = np.where(out[:, 3:5] >= 360.0, out[:, 3:5] - 360.0, out[:, 3:5])
    return out


def cartesian_to_keplerian(states, mu: float = GM_SUN_AU3_PER_DAY2) -> np.ndarray:
    """Keplerian elements of cartesian states.

    Parameters
    ----------
    states : array_like, shape (n, 6) or (6,)
        x, y, z (AU), vx, vy, vz (AU/day) relative to the attracting body.
    mu : float, optional
        Gravitational parameter, AU³/day². Default: GM_sun of DE440.

    Returns
    -------
    numpy.ndarray, shape (n, 6)
        a (AU; < 0 for hyperbolas, inf for e = 1 exactly), e, inc, node, argperi (degrees; inc in
        [0, 180], node and argperi in [0, 360)), M (degrees, signed from the nearest perihelion:
        [−180, 180] for ellipses; NaN for e = 1 exactly).
    """
    arr = _states_for_elements(states)
    out = np.empty_like(arr)
    states_to_keplerian(arr, checked_mu(mu), out)
    return _degrees(out, last_is_angle=True)


def cartesian_to_cometary(states, epoch_mjd_tdb, mu: float = GM_SUN_AU3_PER_DAY2) -> np.ndarray:
    """Cometary elements of cartesian states.

    Parameters
    ----------
    states : array_like, shape (n, 6) or (6,)
        x, y, z (AU), vx, vy, vz (AU/day) relative to the attracting body.
    epoch_mjd_tdb : float or array_like, shape (n,)
        Epoch of the states, MJD (TDB).
    mu : float, optional
        Gravitational parameter, AU³/day². Default: GM_sun of DE440.

    Returns
    -------
    numpy.ndarray, shape (n, 6)
        q (AU), e, inc, node, argperi (degrees), tp (MJD TDB; for ellipses the perihelion
        passage nearest the epoch).

    Notes
    -----
    tp as a float64 MJD near 60000 resolves 7e-12 day; at perihelion speeds that is ~1e-13 AU,
    the floor of a state → cometary → state round trip.
    """
    arr = _states_for_elements(states)
    epochs = as_time_array(epoch_mjd_tdb, "epoch_mjd_tdb", arr.shape[0])
    out = np.empty_like(arr)
    states_to_cometary(arr, epochs, checked_mu(mu), out)
    return _degrees(out, last_is_angle=False)


def _check_choice(value: str, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise InputError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def _rotate(vectors, matrix: np.ndarray) -> np.ndarray:
    arr = np.asarray(vectors, dtype=np.float64)
    if arr.shape[-1:] not in ((3,), (6,)) or arr.ndim not in (1, 2):
        raise InputError(
            f"expected positions of shape (n, 3) or states of shape (n, 6) (or one row of 3 or 6); "
            f"got shape {arr.shape}"
        )
    out = np.empty_like(arr)
    out[..., :3] = arr[..., :3] @ matrix.T
    if arr.shape[-1] == 6:
        out[..., 3:] = arr[..., 3:] @ matrix.T
    return out


def ecliptic_to_equatorial(vectors) -> np.ndarray:
    """Rotate ecliptic-J2000 positions (n, 3) or states (n, 6) to equatorial (ICRF) axes.

    The rotation is about x by the obliquity 84381.448″; the origin is left unchanged and a NaN
    row stays NaN. A single row of shape (3,) or (6,) is accepted.
    """
    return _rotate(vectors, ECLIPTIC_TO_EQUATORIAL)


def equatorial_to_ecliptic(vectors) -> np.ndarray:
    """Rotate equatorial (ICRF) positions (n, 3) or states (n, 6) to ecliptic-J2000 axes."""
    return _rotate(vectors, EQUATORIAL_TO_ECLIPTIC)


def sun_barycentric_states(mjd_tdb, frame: str = "ecliptic") -> np.ndarray:
    """Barycentric state of the Sun (DE440) at each time, in the ecliptic or equatorial frame.

    Parameters
    ----------
    mjd_tdb : float or array_like, shape (n,)
        Times, MJD (TDB). Repeated times are looked up once.
    frame : {"ecliptic", "equatorial"}
        Axes of the result.

    Returns
    -------
    numpy.ndarray, shape (n, 6)
        AU and AU/day.
    """
    _check_choice(frame, FRAMES, "frame")
    times = as_time_array(mjd_tdb, "mjd_tdb")
    unique, inverse = np.unique(times, return_inverse=True)
    sun = barycentric_states("sun", unique)
    if frame == "ecliptic":
        sun = equatorial_to_ecliptic(sun)
    return sun[inverse]


def _shift_origin(states, mjd_tdb, frame: str, sign: float) -> np.ndarray:
    arr = as_state_array(states)
    times = as_time_array(mjd_tdb, "mjd_tdb", arr.shape[0])
    return arr + sign * sun_barycentric_states(times, frame)


def heliocentric_to_barycentric(states, mjd_tdb, frame: str = "ecliptic") -> np.ndarray:
    """Heliocentric states to barycentric ones by adding the Sun's barycentric state (DE440).

    Parameters
    ----------
    states : array_like, shape (n, 6) or (6,)
        Heliocentric states, AU and AU/day, in ``frame``.
    mjd_tdb : float or array_like, shape (n,)
        Time of each state, MJD (TDB).
    frame : {"ecliptic", "equatorial"}
        Axes of ``states`` (and of the result).

    Returns
    -------
    numpy.ndarray, shape (n, 6)
        Barycentric states in the same frame.
    """
    return _shift_origin(states, mjd_tdb, frame, 1.0)


def barycentric_to_heliocentric(states, mjd_tdb, frame: str = "ecliptic") -> np.ndarray:
    """Barycentric states to heliocentric ones: the inverse of ``heliocentric_to_barycentric``."""
    return _shift_origin(states, mjd_tdb, frame, -1.0)


def orbits_to_states(
    orbits: pd.DataFrame, frame: str = "ecliptic", origin: str = "sun"
) -> tuple[np.ndarray, np.ndarray]:
    """Cartesian states at the orbit epochs of an orbit table.

    Parameters
    ----------
    orbits : pandas.DataFrame
        Orbit table with a ``format`` column holding one of KEP, COM, CART (heliocentric ecliptic
        J2000) or BKEP, BCOM, BCART (barycentric ecliptic J2000) for every row, the six columns of
        that format (``ephemerides.orbits.ELEMENT_COLUMNS``) and ``epoch_mjd_tdb``.
    frame : {"ecliptic", "equatorial"}
        Axes of the returned states.
    origin : {"sun", "ssb"}
        Heliocentric or barycentric result.

    Returns
    -------
    states : numpy.ndarray, shape (n, 6)
        x, y, z (AU), vx, vy, vz (AU/day), row order of ``orbits``.
    epoch_mjd_tdb : numpy.ndarray, shape (n,)
        Epoch of each state, MJD (TDB).

    Notes
    -----
    Elements of KEP and COM use GM_sun; those of BKEP and BCOM use
    ``GM_SOLAR_SYSTEM_AU3_PER_DAY2`` (Sun + planets + Moon + Pluto + 16 asteroids), as Sorcha does.
    """
    _check_choice(frame, FRAMES, "frame")
    _check_choice(origin, ORIGINS, "origin")
    if "format" not in orbits.columns:
        raise InputError(
            f"orbits has no 'format' column (one of {', '.join(ORBIT_FORMATS)}); "
            f"columns are {list(orbits.columns)}"
        )
    if len(orbits) == 0:
        return np.empty((0, 6)), np.empty(0)
    formats = pd.unique(orbits["format"])
    if len(formats) != 1:
        raise InputError(
            f"orbits mixes formats {sorted(map(str, formats))}; convert one format at a time, "
            "e.g. per group of orbits.groupby('format')"
        )
    fmt = formats[0]
    if fmt not in ORBIT_FORMATS:
        raise InputError(f"unknown orbit format {fmt!r}; allowed: {', '.join(ORBIT_FORMATS)}")
    barycentric = fmt.startswith("B")
    base = fmt[1:] if barycentric else fmt
    columns = ELEMENT_COLUMNS[fmt]
    missing = [c for c in (*columns, "epoch_mjd_tdb") if c not in orbits.columns]
    if missing:
        raise InputError(f"orbits of format {fmt} lack the column(s) {', '.join(missing)}")
    values = [orbits[c].to_numpy(dtype=np.float64) for c in columns]
    epochs = as_time_array(orbits["epoch_mjd_tdb"].to_numpy(dtype=np.float64), "epoch_mjd_tdb")
    mu = GM_SOLAR_SYSTEM_AU3_PER_DAY2 if barycentric else GM_SUN_AU3_PER_DAY2
    if base == "KEP":
        states = keplerian_to_cartesian(*values, mu=mu)
    elif base == "COM":
        states = cometary_to_cartesian(*values, epochs, mu=mu)
    else:
        states = as_state_array(np.column_stack(values), name=f"{fmt} state columns")
    native = "ssb" if barycentric else "sun"
    if origin != native:
        sign = 1.0 if origin == "ssb" else -1.0
        states = _shift_origin(states, epochs, "ecliptic", sign)
    if frame == "equatorial":
        states = ecliptic_to_equatorial(states)
    return np.ascontiguousarray(states), epochs
