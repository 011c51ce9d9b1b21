"""Numba kernel: light-time corrected astrometric observables of 2-body trajectories.

Arrays in and out are float64, C-contiguous; the output is preallocated by the caller. The
obvious NumPy reference lives in tests/test_observation_kernels.py.
"""

import math

from ephemerides._kepler_kernels import orbit_invariants, propagate_one
from ephemerides._numba import njit

# Columns of the output array of ``observe``.
RA, DEC, RA_RATE, DEC_RATE, TOPO_RANGE, HELIO_RANGE, LIGHT_TIME, PHASE, ELONGATION = range(9)
N_COLUMNS = 9


@njit
def _unit_aberrated(x, y, z, vx, vy, vz, c):
    """Unit vector of (x, y, z) displaced by stellar aberration for velocity (vx, vy, vz),
    to first order in v/c (the second order is below 10 mas)."""
    n = math.sqrt(x * x + y * y + z * z)
    ax, ay, az = x / n + vx / c, y / n + vy / c, z / n + vz / c
    m = math.sqrt(ax * ax + ay * ay + az * az)
    return ax / m, ay / m, az / m


@njit
def _angle(ax, ay, az, bx, by, bz):
    """Angle between two vectors (radians), accurate at all angles (atan2 form)."""
    cx = ay * bz - az * by
    cy = az * bx - ax * bz
    cz = ax * by - ay * bx
    return math.atan2(math.sqrt(cx * cx + cy * cy + cz * cz), ax * bx + ay * by + az * bz)


@njit
def observe(helio_t, sun_bary_t, obs_bary_t, mu, c, tol_days, max_iter, out):
    """Astrometric observables of objects on 2-body heliocentric orbits seen by observers.

    Parameters
    ----------
    helio_t : (k, 6) heliocentric ICRF state of each object at the observation time t (AU, AU/d).
    sun_bary_t : (k, 6) barycentric ICRF state of the Sun at t.
    obs_bary_t : (k, 6) barycentric ICRF state of the observer at t.
    mu : gravitational parameter of the heliocentric motion over the light time (AU³/d²).
    c : speed of light (AU/day).
    tol_days : convergence tolerance of the light-time iteration.
    max_iter : iteration cap of the straight-line light-time iteration; the fixed point
        contracts by v/c ~ 1e-4 per step, so 3–4 suffice.
    out : (k, 9) output; columns RA, DEC (rad, astrometric ICRF), RA_RATE (dRA/dt·cos Dec),
        DEC_RATE (rad/day), TOPO_RANGE, HELIO_RANGE (AU), LIGHT_TIME (day), PHASE, ELONGATION
        (rad).

    Notes
    -----
    The light path is barycentric: |r_obj,bary(t − lt) − r_obs,bary(t)| = c·lt, with the object
    moved back over lt by exact 2-body propagation. The Sun's barycentric position at earlier
    instants is extrapolated linearly from its state at t; its acceleration (~2e-7 m/s²) keeps
    that error below 30 m over a 5-hour light time (≤ 2 µas beyond 1 AU).

    The heliocentric range is taken from the Sun at the instant its light left to illuminate
    the object at emission (the Sun moves ~13 m/s: ~200 km over a TNO's Sun–object light time);
    phase (Sun–object–observer) and elongation (Sun–observer–object) are angles between
    apparent directions, aberrated by the velocity of the body at the vertex — JPL Horizons'
    definitions of r, alpha and elong.
    """
    for i in range(helio_t.shape[0]):
        x, y, z = helio_t[i, 0], helio_t[i, 1], helio_t[i, 2]
        vx, vy, vz = helio_t[i, 3], helio_t[i, 4], helio_t[i, 5]
        sx, sy, sz = sun_bary_t[i, 0], sun_bary_t[i, 1], sun_bary_t[i, 2]
        svx, svy, svz = sun_bary_t[i, 3], sun_bary_t[i, 4], sun_bary_t[i, 5]
        ox, oy, oz = obs_bary_t[i, 0], obs_bary_t[i, 1], obs_bary_t[i, 2]
        ovx, ovy, ovz = obs_bary_t[i, 3], obs_bary_t[i, 4], obs_bary_t[i, 5]
        r0, sigma0, alpha, q, period = orbit_invariants(x, y, z, vx, vy, vz, mu)

        # Light time: fixed-point iteration from the geometric distance with the object moving
        # in a straight line (its curvature over the light time shifts lt by ~a·lt²/2c, a few
        # microseconds), then one exact 2-body step and one Newton step of
        # |r_obj(t − lt) − r_obs| = c·lt from there (what remains is of second order in those
        # microseconds).
        dx, dy, dz = x + sx - ox, y + sy - oy, z + sz - oz
        lt = math.sqrt(dx * dx + dy * dy + dz * dz) / c
        for _ in range(max_iter):
            dx = x + sx - (vx + svx) * lt - ox
            dy = y + sy - (vy + svy) * lt - oy
            dz = z + sz - (vz + svz) * lt - oz
            new = math.sqrt(dx * dx + dy * dy + dz * dz) / c
            change = abs(new - lt)
            lt = new
            if change <= tol_days:
                break
        ex, ey, ez, evx, evy, evz = propagate_one(
            x, y, z, vx, vy, vz, r0, sigma0, alpha, q, period, mu, -lt
        )
        dx = ex + sx - svx * lt - ox
        dy = ey + sy - svy * lt - oy
        dz = ez + sz - svz * lt - oz
        dist = math.sqrt(dx * dx + dy * dy + dz * dz)
        step = (dist - c * lt) / (c + (dx * (evx + svx) + dy * (evy + svy)
                                       + dz * (evz + svz)) / dist)
        lt += step
        ex, ey, ez = ex - evx * step, ey - evy * step, ez - evz * step
        # Astrometric vector: barycentric object at emission minus observer at reception.
        dx = ex + sx - svx * lt - ox
        dy = ey + sy - svy * lt - oy
        dz = ez + sz - svz * lt - oz
        dist = math.sqrt(dx * dx + dy * dy + dz * dz)
        ux, uy, uz = dx / dist, dy / dist, dz / dist
        # Rate of the astrometric vector, with d(lt)/dt from c·lt = |rho(t − lt)|.
        bvx, bvy, bvz = evx + svx, evy + svy, evz + svz
        dlt_dt = (ux * (bvx - ovx) + uy * (bvy - ovy) + uz * (bvz - ovz)) / (
            c + ux * bvx + uy * bvy + uz * bvz
        )
        rdx = bvx * (1.0 - dlt_dt) - ovx
        rdy = bvy * (1.0 - dlt_dt) - ovy
        rdz = bvz * (1.0 - dlt_dt) - ovz
        ra = math.atan2(dy, dx)
        if uz > 1.0:  # rounding guard; written as comparisons so that NaN stays NaN
            uz = 1.0
        elif uz < -1.0:
            uz = -1.0
        dec = math.asin(uz)
        sin_ra, cos_ra = math.sin(ra), math.cos(ra)
        sin_dec, cos_dec = math.sin(dec), math.cos(dec)
        out[i, RA] = ra % (2.0 * math.pi)
        out[i, DEC] = dec
        out[i, RA_RATE] = (-sin_ra * rdx + cos_ra * rdy) / dist
        out[i, DEC_RATE] = (cos_dec * rdz - sin_dec * (cos_ra * rdx + sin_ra * rdy)) / dist
        out[i, TOPO_RANGE] = dist
        out[i, LIGHT_TIME] = lt

        # Sun -> object, the Sun taken lt_sun_obj before emission: e + v_sun·lt_sun_obj.
        lt_sun_obj = math.sqrt(ex * ex + ey * ey + ez * ez) / c
        hx, hy, hz = ex + svx * lt_sun_obj, ey + svy * lt_sun_obj, ez + svz * lt_sun_obj
        out[i, HELIO_RANGE] = math.sqrt(hx * hx + hy * hy + hz * hz)
        # Observer -> Sun, the Sun light-time corrected.
        px, py, pz = sx - ox, sy - oy, sz - oz
        lt_sun_obs = math.sqrt(px * px + py * py + pz * pz) / c
        px, py, pz = px - svx * lt_sun_obs, py - svy * lt_sun_obs, pz - svz * lt_sun_obs
        ax, ay, az = _unit_aberrated(dx, dy, dz, ovx, ovy, ovz, c)
        tx, ty, tz = _unit_aberrated(-hx, -hy, -hz, bvx, bvy, bvz, c)
        out[i, PHASE] = _angle(tx, ty, tz, -ax, -ay, -az)
        px, py, pz = _unit_aberrated(px, py, pz, ovx, ovy, ovz, c)
        out[i, ELONGATION] = _angle(px, py, pz, ax, ay, az)
