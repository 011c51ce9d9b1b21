"""Two-body (Kepler) propagation of states about one attracting body, for every conic type.

The work is done by the universal-variable kernels of ``ephemerides._kepler_kernels`` (see that
module for the method); this layer checks shapes and values and converts inputs to contiguous
float64 arrays. Units: AU, days, AU³/day²; times are MJD in TDB. The frame is whatever the states
are given in (the motion is frame-independent as long as the origin is the attracting body).
"""

import numpy as np

from ephemerides._kepler_kernels import propagate_grid, propagate_pairs
from ephemerides.constants import GM_SUN_AU3_PER_DAY2
from ephemerides.errors import InputError


def _bad_rows_message(mask: np.ndarray) -> str:
    rows = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in rows[:5])
    more = f" and {rows.size - 5} more" if rows.size > 5 else ""
    return f"row(s) {shown}{more}"


def as_state_array(states, name: str = "states") -> np.ndarray:
    """Validated (n, 6) C-contiguous float64 copy or view of ``states``.

    A single state of shape (6,) is accepted as one row. Raises ``ValueError`` for any other
    shape or for NaN/inf values (naming the offending rows).
    """
    arr = np.asarray(states, dtype=np.float64)
    if arr.shape == (6,):
        arr = arr[np.newaxis, :]
    if arr.ndim != 2 or arr.shape[1] != 6:
        raise InputError(
            f"{name} must have shape (n, 6) -- x, y, z in AU, vx, vy, vz in AU/day per row -- "
            f"or (6,) for one state; got shape {arr.shape}"
        )
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        raise InputError(
            f"{name} has NaN or infinite values in {_bad_rows_message(~finite)}; "
            "drop or repair those rows first"
        )
    return np.ascontiguousarray(arr)


def as_time_array(values, name: str, n: int | None = None) -> np.ndarray:
    """Validated 1-D C-contiguous float64 array of finite times.

    A scalar is broadcast to length ``n`` when ``n`` is given (else to length 1); an array must
    be 1-D, and of length ``n`` when ``n`` is given.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(1 if n is None else n, float(arr))
    if arr.ndim != 1 or (n is not None and arr.size != n):
        wanted = "a scalar or a 1-D array" + ("" if n is None else f" of length {n}")
        raise InputError(f"{name} must be {wanted}; got shape {arr.shape}")
    finite = np.isfinite(arr)
    if not finite.all():
        raise InputError(f"{name} has NaN or infinite values in {_bad_rows_message(~finite)}")
    return np.ascontiguousarray(arr)


def checked_mu(mu) -> float:
    """``mu`` as a float, after checking that it is finite and positive."""
    value = float(mu)
    if not (np.isfinite(value) and value > 0.0):
        raise InputError(
            f"mu must be a finite, positive gravitational parameter in AU^3/day^2 "
            f"(GM_sun = {GM_SUN_AU3_PER_DAY2:.10e}); got {mu!r}"
        )
    return value


def kepler_step(states, dt_days, mu: float = GM_SUN_AU3_PER_DAY2) -> np.ndarray:
    """Advance each state by its own time step on a 2-body orbit.

    Parameters
    ----------
    states : array_like, shape (n, 6) or (6,)
        Positions (AU) and velocities (AU/day) relative to the attracting body.
    dt_days : float or array_like, shape (n,)
        Time step per row, days; negative steps go backwards, 0 returns the row unchanged.
    mu : float, optional
        Gravitational parameter of the attracting body, AU³/day². Default: GM_sun of DE440.

    Returns
    -------
    numpy.ndarray, shape (n, 6)
        The propagated states, same frame and units.

    Raises
    ------
    ValueError
        On a wrong shape, NaN/inf values, or a non-positive ``mu``.

    Notes
    -----
    Accurate to ~1e-13 relative for ellipses, parabolas and hyperbolas alike, over any number
    of revolutions; rectilinear unbound trajectories (zero angular momentum, e ≥ 1) give NaN.
    """
    arr = as_state_array(states)
    dt = as_time_array(dt_days, "dt_days", arr.shape[0])
    out = np.empty_like(arr)
    propagate_pairs(arr, dt, checked_mu(mu), out)
    return out


def propagate_2body(states, epoch_mjd_tdb, mjd_tdb, mu: float = GM_SUN_AU3_PER_DAY2) -> np.ndarray:
    """Propagate every state to every requested time on a 2-body orbit.

    Parameters
    ----------
    states : array_like, shape (n, 6) or (6,)
        Positions (AU) and velocities (AU/day) relative to the attracting body.
    epoch_mjd_tdb : float or array_like, shape (n,)
        Epoch of each state, MJD (TDB).
    mjd_tdb : float or array_like, shape (m,)
        Times to propagate to, MJD (TDB).
    mu : float, optional
        Gravitational parameter, AU³/day². Default: GM_sun of DE440.

    Returns
    -------
    numpy.ndarray, shape (n, m, 6)
        ``out[i, j]`` is state ``i`` at time ``mjd_tdb[j]``.
    """
    arr = as_state_array(states)
    epochs = as_time_array(epoch_mjd_tdb, "epoch_mjd_tdb", arr.shape[0])
    times = as_time_array(mjd_tdb, "mjd_tdb")
    out = np.empty((arr.shape[0], times.size, 6))
    propagate_grid(arr, epochs, times, checked_mu(mu), out)
    return out
