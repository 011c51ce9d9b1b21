"""Numba kernels: barycentric positions and velocities from SPK type 2 Chebyshev segments.

The arrays come from :class:`ephemerides.spk.SpkEphemeris`:

``data`` : float64 (n_words,)
    The coefficient records of every segment, concatenated. One record of a type 2 segment
    (NAIF SPK Required Reading, "Type 2: Chebyshev (position only)") is
    ``MID, RADIUS, X_0 … X_{n-1}, Y_0 … Y_{n-1}, Z_0 … Z_{n-1}``: the midpoint and half-length
    of the record's interval (TDB seconds past J2000) and the Chebyshev coefficients of the
    position in km.
``segments`` : int64 (n_segments, 6)
    Per segment: offset of its first record in ``data``, number of records, coefficients per
    component ``n``, record size ``2 + 3 n``, and the NAIF ids of its target and centre.
``segment_times`` : float64 (n_segments, 4)
    Per segment: INIT (start of the first record) and INTLEN (length of every record) in TDB
    seconds past J2000, then the start and end of the segment's coverage.
``chains`` : int64 (n_bodies, k)
    Per body, the segments whose states add up to the body's state relative to the solar-system
    barycentre, padded with -1.

Times are SPICE ephemeris times (ET, TDB seconds past J2000). Positions come out in AU and
velocities in AU/day, ICRF axes. The kernels neither check coverage nor allocate: a time outside
a segment is evaluated in its first or last record (a polynomial extrapolation, meaningless far
out), so the caller checks coverage first; a NaN time gives NaN states.
"""

from ephemerides._numba import njit
from ephemerides.constants import AU_KM, SECONDS_PER_DAY

# Columns of ``segments``.
SEG_OFFSET = 0
SEG_N_RECORDS = 1
SEG_N_COEF = 2
SEG_RECORD_SIZE = 3
SEG_TARGET = 4
SEG_CENTER = 5
# Columns of ``segment_times``.
TIME_INIT = 0
TIME_INTLEN = 1
TIME_START = 2
TIME_END = 3

# km/s -> AU/day.
_KM_PER_S_TO_AU_PER_DAY = SECONDS_PER_DAY / AU_KM


@njit
def _record_offset(segments, segment_times, seg, et):
    """Index in ``data`` of the record of segment ``seg`` that covers ``et``.

    The record number is floor((et - INIT) / INTLEN), clamped to the segment's records, so
    that the end point of the last record (and, for NaN, the first record) is used.
    """
    n_records = segments[seg, SEG_N_RECORDS]
    position = (et - segment_times[seg, TIME_INIT]) / segment_times[seg, TIME_INTLEN]
    if position >= n_records:
        record = n_records - 1
    elif position >= 0.0:
        record = int(position)
    else:  # before the first record, or NaN
        record = 0
    return segments[seg, SEG_OFFSET] + record * segments[seg, SEG_RECORD_SIZE]


@njit
def _chebyshev_state(data, base, n, et):
    """Position (km) and velocity (km/s) of one type 2 record at ``et``.

    Clenshaw's backward three-term recurrence on the normalised time s = (et - MID) / RADIUS:
    b_k = c_k + 2 s b_{k+1} - b_{k+2}, value = c_0 + s b_1 - b_2; for the s-derivative
    d_k = 2 b_{k+1} + 2 s d_{k+1} - d_{k+2}, derivative = b_1 + s d_1 - d_2, divided by RADIUS
    (ds/dt = 1 / RADIUS). The operations are in the order of SPICE's CHBINT, so that the result
    agrees with SPICE's to the last bit.
    """
    radius = data[base + 1]
    s = (et - data[base]) / radius
    two_s = 2.0 * s
    cx = base + 2
    cy = cx + n
    cz = cy + n
    x1 = x2 = y1 = y2 = z1 = z2 = 0.0
    dx1 = dx2 = dy1 = dy2 = dz1 = dz2 = 0.0
    for k in range(n - 1, 0, -1):
        x0 = data[cx + k] + (two_s * x1 - x2)
        y0 = data[cy + k] + (two_s * y1 - y2)
        z0 = data[cz + k] + (two_s * z1 - z2)
        dx0 = (2.0 * x1 + two_s * dx1) - dx2
        dy0 = (2.0 * y1 + two_s * dy1) - dy2
        dz0 = (2.0 * z1 + two_s * dz1) - dz2
        x2 = x1
        x1 = x0
        y2 = y1
        y1 = y0
        z2 = z1
        z1 = z0
        dx2 = dx1
        dx1 = dx0
        dy2 = dy1
        dy1 = dy0
        dz2 = dz1
        dz1 = dz0
    return (
        data[cx] + (s * x1 - x2),
        data[cy] + (s * y1 - y2),
        data[cz] + (s * z1 - z2),
        (x1 + s * dx1 - dx2) / radius,
        (y1 + s * dy1 - dy2) / radius,
        (z1 + s * dz1 - dz2) / radius,
    )


@njit
def body_states(data, segments, segment_times, chains, et, out):
    """Barycentric positions and velocities of every body at one time.

    Parameters
    ----------
    data, segments, segment_times, chains : numpy.ndarray
        The arrays of an :class:`ephemerides.spk.SpkEphemeris` (see the module docstring).
    et : float
        TDB seconds past J2000 (SPICE ephemeris time), inside the coverage.
    out : numpy.ndarray, float64 (n_bodies, 6)
        Filled with x, y, z in AU and vx, vy, vz in AU/day (ICRF axes, origin the solar-system
        barycentre).

    Returns
    -------
    numpy.ndarray
        ``out``.
    """
    for body in range(chains.shape[0]):
        x = 0.0
        y = 0.0
        z = 0.0
        vx = 0.0
        vy = 0.0
        vz = 0.0
        for link in range(chains.shape[1]):
            seg = chains[body, link]
            if seg < 0:
                break
            base = _record_offset(segments, segment_times, seg, et)
            px, py, pz, pvx, pvy, pvz = _chebyshev_state(
                data, base, segments[seg, SEG_N_COEF], et
            )
            x += px
            y += py
            z += pz
            vx += pvx
            vy += pvy
            vz += pvz
        out[body, 0] = x / AU_KM
        out[body, 1] = y / AU_KM
        out[body, 2] = z / AU_KM
        out[body, 3] = vx * _KM_PER_S_TO_AU_PER_DAY
        out[body, 4] = vy * _KM_PER_S_TO_AU_PER_DAY
        out[body, 5] = vz * _KM_PER_S_TO_AU_PER_DAY
    return out


@njit
def body_states_at_times(data, segments, segment_times, chains, ets, out):
    """:func:`body_states` at many times.

    Parameters
    ----------
    data, segments, segment_times, chains : numpy.ndarray
        The arrays of an :class:`ephemerides.spk.SpkEphemeris`.
    ets : numpy.ndarray, float64 (n_times,)
        TDB seconds past J2000.
    out : numpy.ndarray, float64 (n_times, n_bodies, 6)
        Filled with positions (AU) and velocities (AU/day).

    Returns
    -------
    numpy.ndarray
        ``out``.
    """
    for i in range(ets.shape[0]):
        body_states(data, segments, segment_times, chains, ets[i], out[i])
    return out
