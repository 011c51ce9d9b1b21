"""Numba kernel: accelerations of massless test particles in the Solar System.

Frame and units: barycentric ICRF, AU, days, AU³/day². Particle arrays are laid out as
(3, capacity) — one contiguous row per coordinate — so that the loop over particles, which is the
inner loop, runs over contiguous memory and vectorises. Only the first ``n`` columns are used:
the integrator keeps its active particles packed at the front (inactive ones are removed by
compaction rather than tested inside the loop). The obvious NumPy reference lives in
tests/test_nbody.py.

Force model
-----------
* Newtonian point-mass attraction of every body of the perturber table
  (:func:`ephemerides.spk.load_perturbers`: Sun, planet-system barycentres, Earth, Moon, and
  optionally the 16 massive asteroids of sb441-n16), positions from the JPL ephemeris at the
  particle's time.
* The Sun's first post-Newtonian correction for a test particle, PPN β = γ = 1, in the Sun's
  rest frame (heliocentric position r and velocity v; Damour & Deruelle 1985; IERS Conventions
  2010, eq. 10.12 without the Lense–Thirring and de Sitter terms):

      a_GR = GM/(c² r³) · [(4 GM/r − v²) r + 4 (r·v) v].

  ASSIST (Holman et al. 2023) by default uses the Einstein–Infeld–Hoffmann form with the Sun as
  the only source, whose extra terms bring in the planets' potentials and the Sun's own
  barycentric velocity and acceleration. Those terms are ~1e-3 of a_GR (itself ~1e-8 of the
  solar attraction) and move the Horizons test objects by at most 0.3 m over ±30 days, while
  a_GR moves them by up to 4.9 km; see ``nbody.py`` for the measurement behind this choice.
* Zonal harmonics of oblate bodies (the Earth's J2, J3, J4 and the Sun's J2): for a body of
  gravitational parameter GM, equatorial radius R and unit pole vector p, a particle at r from
  its centre (s = r̂·p) feels, for each degree n,

      a_n = GM J_n Rⁿ / r^(n+2) · [((n+1) P_n(s) + s P_n'(s)) r̂ − P_n'(s) p],

  the gradient of −GM J_n Rⁿ P_n(s) / r^(n+1) (P_n the Legendre polynomials). Only particles
  within a body's reach pay for its terms (the Earth's fall off as r⁻⁴ and beyond 0.1 AU move
  a particle by less than a metre a year).
"""

import math

from ephemerides._numba import njit

# Columns of a row of the zonal-harmonics table of :func:`accelerations`.
ZONAL_BODY, ZONAL_REACH2, ZONAL_RADIUS, ZONAL_J2, ZONAL_J3, ZONAL_J4 = 0, 1, 2, 3, 4, 5
ZONAL_POLE = 6  # 6, 7, 8: the unit pole vector, ICRF
ZONAL_COLUMNS = 9


@njit
def _zonal(dx, dy, dz, r2, gm, radius, j2, j3, j4, px, py, pz):
    """Acceleration (x, y, z) of the zonal harmonics J2-J4 of a body of radius ``radius`` and
    pole (px, py, pz) (module docstring) at (dx, dy, dz) from its centre, r2 = |(dx, dy, dz)|²."""
    inv_r = 1.0 / math.sqrt(r2)
    ux, uy, uz = dx * inv_r, dy * inv_r, dz * inv_r
    s = ux * px + uy * py + uz * pz
    s2 = s * s
    q = radius * inv_r
    # Legendre polynomials P_n(s) and their derivatives, n = 2, 3, 4.
    p2, d2 = 0.5 * (3.0 * s2 - 1.0), 3.0 * s
    p3, d3 = 0.5 * s * (5.0 * s2 - 3.0), 0.5 * (15.0 * s2 - 3.0)
    p4, d4 = 0.125 * (35.0 * s2 * s2 - 30.0 * s2 + 3.0), 0.5 * s * (35.0 * s2 - 15.0)
    c2 = j2 * q * q
    c3 = j3 * q * q * q
    c4 = j4 * q * q * q * q
    radial = c2 * (3.0 * p2 + s * d2) + c3 * (4.0 * p3 + s * d3) + c4 * (5.0 * p4 + s * d4)
    polar = c2 * d2 + c3 * d3 + c4 * d4
    f = gm * inv_r * inv_r
    return f * (radial * ux - polar * px), f * (radial * uy - polar * py), \
        f * (radial * uz - polar * pz)


@njit
def accelerations(pos, vel, n, bodies, gm, radius2, c2, zonal, acc, hit):
    """Acceleration of the first ``n`` particles; flag those inside a body.

    Parameters
    ----------
    pos, vel : (3, capacity) float64
        Barycentric ICRF positions (AU) and velocities (AU/day) of the particles.
    n : int
        Number of particles to compute (columns ``0 … n-1``).
    bodies : (n_bodies, 6) float64
        Barycentric ICRF states of the perturbing bodies (AU, AU/day) at the particles' time;
        row 0 must be the Sun (the GR term uses its position and velocity; the other rows
        only need positions).
    gm : (n_bodies,) float64
        Gravitational parameters, AU³/day².
    radius2 : (n_bodies,) float64
        Squared impact radius of each body, AU².
    c2 : float
        Speed of light squared, (AU/day)².
    zonal : (k, ``ZONAL_COLUMNS``) float64
        Oblate bodies, one row each: the body's row of ``bodies``, the squared distance (AU²)
        within which its harmonics act (the Sun's, row 0 of ``bodies``, act everywhere), its
        equatorial radius (AU), J2, J3, J4 and its unit pole vector (ICRF); no rows: none.
    acc : (3, capacity) float64
        Output accelerations, AU/day² (columns ``0 … n-1`` are overwritten).
    hit : (capacity,) int64
        For each particle closer to a body than that body's radius, set to the index of that
        body (the last such body in summation order); left unchanged otherwise.
    """
    # Summation from the smallest terms to the largest keeps the rounding of the sum small: GR
    # first, then the bodies in reverse table order (asteroids, outer planets, ..., Sun last),
    # each with its zonal harmonics after its point mass.
    sx, sy, sz = bodies[0, 0], bodies[0, 1], bodies[0, 2]
    svx, svy, svz = bodies[0, 3], bodies[0, 4], bodies[0, 5]
    gm_sun = gm[0]
    # The Sun's zonal harmonics (its row of ``zonal``: everywhere, whatever its reach) go with the
    # GR term, which has every particle's heliocentric offset at hand; no row: zero terms.
    radius, j2, j3, j4, px, py, pz = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0
    for row in range(zonal.shape[0]):
        if int(zonal[row, ZONAL_BODY]) == 0:
            radius = zonal[row, ZONAL_RADIUS]
            j2, j3, j4 = zonal[row, ZONAL_J2], zonal[row, ZONAL_J3], zonal[row, ZONAL_J4]
            px, py, pz = (zonal[row, ZONAL_POLE], zonal[row, ZONAL_POLE + 1],
                          zonal[row, ZONAL_POLE + 2])
    for i in range(n):
        dx = pos[0, i] - sx
        dy = pos[1, i] - sy
        dz = pos[2, i] - sz
        dvx = vel[0, i] - svx
        dvy = vel[1, i] - svy
        dvz = vel[2, i] - svz
        r2 = dx * dx + dy * dy + dz * dz
        r = math.sqrt(r2)
        radial = 4.0 * gm_sun / r - (dvx * dvx + dvy * dvy + dvz * dvz)
        along = 4.0 * (dx * dvx + dy * dvy + dz * dvz)
        f = gm_sun / (c2 * r2 * r)
        zx, zy, zz = _zonal(dx, dy, dz, r2, gm_sun, radius, j2, j3, j4, px, py, pz)
        acc[0, i] = f * (radial * dx + along * dvx) + zx
        acc[1, i] = f * (radial * dy + along * dvy) + zy
        acc[2, i] = f * (radial * dz + along * dvz) + zz
    for j in range(bodies.shape[0] - 1, -1, -1):
        bx, by, bz = bodies[j, 0], bodies[j, 1], bodies[j, 2]
        gmj = gm[j]
        rj2 = radius2[j]
        for i in range(n):
            dx = pos[0, i] - bx
            dy = pos[1, i] - by
            dz = pos[2, i] - bz
            r2 = dx * dx + dy * dy + dz * dz
            f = gmj / (r2 * math.sqrt(r2))
            acc[0, i] -= f * dx
            acc[1, i] -= f * dy
            acc[2, i] -= f * dz
            if r2 < rj2:
                hit[i] = j
        for row in range(zonal.shape[0]):
            if j > 0 and int(zonal[row, ZONAL_BODY]) == j and zonal[row, ZONAL_REACH2] > 0.0:
                _add_zonal(pos, n, bx, by, bz, gmj, zonal, row, acc)


@njit
def _add_zonal(pos, n, bx, by, bz, gm, zonal, row, acc):
    """Add the zonal harmonics of ``zonal[row]``, a body at (bx, by, bz) other than the Sun, to
    the particles within its reach."""
    reach2 = zonal[row, ZONAL_REACH2]
    radius = zonal[row, ZONAL_RADIUS]
    j2, j3, j4 = zonal[row, ZONAL_J2], zonal[row, ZONAL_J3], zonal[row, ZONAL_J4]
    px, py, pz = zonal[row, ZONAL_POLE], zonal[row, ZONAL_POLE + 1], zonal[row, ZONAL_POLE + 2]
    for i in range(n):
        dx = pos[0, i] - bx
        dy = pos[1, i] - by
        dz = pos[2, i] - bz
        r2 = dx * dx + dy * dy + dz * dz
        if r2 < reach2:
            zx, zy, zz = _zonal(dx, dy, dz, r2, gm, radius, j2, j3, j4, px, py, pz)
            acc[0, i] += zx
            acc[1, i] += zy
            acc[2, i] += zz


@njit
def zonal_in_reach(pos, n, bodies, zonal, out):
    """``zonal`` copied into ``out`` (same shape), with the reach of each body but the Sun set to
    0 where none of the first ``n`` particles at ``pos`` (3, capacity) is within it: an
    integrator calls this once per step, so that a batch with no particle near the Earth (most
    steps, most batches) does not pay for its harmonics at each force evaluation. (A particle
    that enters the reach during a step gets them from the next step: 0.1 AU out they are
    ~1e-17 AU/day².)"""
    for row in range(zonal.shape[0]):
        for c in range(ZONAL_COLUMNS):
            out[row, c] = zonal[row, c]
        j = int(zonal[row, ZONAL_BODY])
        if j == 0:
            continue
        bx, by, bz = bodies[j, 0], bodies[j, 1], bodies[j, 2]
        reach2 = zonal[row, ZONAL_REACH2]
        near = 0
        for i in range(n):
            dx = pos[0, i] - bx
            dy = pos[1, i] - by
            dz = pos[2, i] - bz
            near += (dx * dx + dy * dy + dz * dz) < reach2
        if near == 0:
            out[row, ZONAL_REACH2] = 0.0
