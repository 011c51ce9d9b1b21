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
"""

import math

from ephemerides._numba import njit


@njit
def accelerations(pos, vel, n, bodies, gm, radius2, c2, acc, hit):
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
    acc : (3, capacity) float64
        Output accelerations, AU/day² (columns ``0 … n-1`` are overwritten).
    hit : (capacity,) int64
        For each particle closer to a body than that body's radius, set to the index of that
        body (the last such body in summation order); left unchanged otherwise.
    """
    # Summation from the smallest terms to the largest keeps the rounding of the sum small: GR
    # first, then the bodies in reverse table order (asteroids, outer planets, ..., Sun last).
    sx, sy, sz = bodies[0, 0], bodies[0, 1], bodies[0, 2]
    svx, svy, svz = bodies[0, 3], bodies[0, 4], bodies[0, 5]
    gm_sun = gm[0]
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
        acc[0, i] = f * (radial * dx + along * dvx)
        acc[1, i] = f * (radial * dy + along * dvy)
        acc[2, i] = f * (radial * dz + along * dvz)
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
