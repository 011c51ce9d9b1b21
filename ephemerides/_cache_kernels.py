"""Numba kernels of the nightly ephemeris cache: Chebyshev evaluation of many objects at once.

Arrays in and out are float64/int64, C-contiguous; outputs are preallocated by the caller. The
obvious NumPy references live in tests/test_cache.py.
"""

import math

from ephemerides._numba import njit

# Fitted quantities, the middle axis of the coefficient array.
X, Y, Z, TOPO_RANGE, HELIO_RANGE, PHASE, ELONGATION = range(7)
N_QUANTITIES = 7

# Columns of the output of ``evaluate``: unit vector, its time derivative, then the scalars.
OUT_X, OUT_Y, OUT_Z, OUT_DX, OUT_DY, OUT_DZ = range(6)
OUT_TOPO_RANGE, OUT_HELIO_RANGE, OUT_PHASE, OUT_ELONGATION = range(6, 10)
N_OUT = 10


@njit
def evaluate(coefficients, first_segment, n_segments, rows, t0, night_days, t, out):
    """Normalised position, its rate and scalar observables of ``rows`` at one time.

    Parameters
    ----------
    coefficients : (n_segments_total, 7, degree + 1) Chebyshev coefficients of every segment
        (quantities in the order X, Y, Z, TOPO_RANGE, HELIO_RANGE, PHASE, ELONGATION).
    first_segment, n_segments : (n_objects,) int64 index of each object's first segment and
        its number of equal sub-intervals of the night.
    rows : (k,) int64 objects to evaluate.
    t0, night_days : start (MJD, the fit's time scale) and length (days) of the night.
    t : evaluation time (MJD, same scale), inside [t0, t0 + night_days].
    out : (k, 10) output: unit vector x, y, z; its derivative (1/day); topocentric and
        heliocentric range (AU); phase angle and elongation (rad).
    """
    degree = coefficients.shape[2] - 1
    for i in range(rows.size):
        obj = rows[i]
        n_seg = n_segments[obj]
        position = (t - t0) / night_days * n_seg
        seg = math.floor(position)
        seg = min(max(seg, 0), n_seg - 1)
        u = 2.0 * (position - seg) - 1.0
        du_dt = 2.0 * n_seg / night_days
        c = coefficients[first_segment[obj] + seg]
        for q in range(N_QUANTITIES):
            # T_j(u) and T_j'(u) by their three-term recurrences.
            t_prev, t_cur = 1.0, u
            d_prev, d_cur = 0.0, 1.0
            value = c[q, 0] + (c[q, 1] * u if degree >= 1 else 0.0)
            slope = c[q, 1] if degree >= 1 else 0.0
            for j in range(2, degree + 1):
                t_next = 2.0 * u * t_cur - t_prev
                d_next = 2.0 * t_cur + 2.0 * u * d_cur - d_prev
                value += c[q, j] * t_next
                slope += c[q, j] * d_next
                t_prev, t_cur = t_cur, t_next
                d_prev, d_cur = d_cur, d_next
            if q < 3:
                out[i, q] = value
                out[i, 3 + q] = slope * du_dt
            else:
                out[i, 3 + q] = value
        # Normalise the fitted vector; the rate of a unit vector is its transverse part.
        x, y, z = out[i, OUT_X], out[i, OUT_Y], out[i, OUT_Z]
        norm = math.sqrt(x * x + y * y + z * z)
        x, y, z = x / norm, y / norm, z / norm
        dx, dy, dz = out[i, OUT_DX] / norm, out[i, OUT_DY] / norm, out[i, OUT_DZ] / norm
        radial = x * dx + y * dy + z * dz
        out[i, OUT_X], out[i, OUT_Y], out[i, OUT_Z] = x, y, z
        out[i, OUT_DX] = dx - radial * x
        out[i, OUT_DY] = dy - radial * y
        out[i, OUT_DZ] = dz - radial * z
