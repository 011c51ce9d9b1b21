"""Numba kernels of the HelioLinC3D search: projection of tracklets to heliocentric states.

Arrays in and out are float64 and C-contiguous; outputs are preallocated by the caller. Units:
AU, days (MJD TDB), AU/day.

Method
------
For a hypothesis (r₀, ṙ₀, r̈) defined at the reference epoch t_ref, the heliocentric distance at
time t is r(t) = r₀ + ṙ₀ (t − t_ref) + ½ r̈ (t − t_ref)². A detection seen from the heliocentric
observer position o in the direction u (astrometric, so light-time corrected) lies at
P = o + ρ u, and |P| = r(t) gives ρ² + 2ρ (o·u) + |o|² − r² = 0. When r > |o| (every object
outside the observer's orbit) one root is positive. When r < |o| (an NEO inside the Earth's
orbit) the line of sight crosses the sphere twice where it points sunward enough, and both roots
are positive: the object may be at either distance. The *far* pass takes the larger root, the
*near* pass the smaller one and only where both are positive (elsewhere the far pass already
has the only solution); an endpoint without the requested root is invalid (NaN).

**Light time is corrected**: P is the position at the emission time t_emit = t − ρ/c, so ρ is
solved again with r(t_emit); ``LIGHT_TIME_PASSES`` passes change ρ by ≪ 1 km thereafter (the
change per pass is ~ṙ ρ/c, a few hundred km, then its square relative to ρ).
"""

import math

import numpy as np

from ephemerides._numba import njit

# Solutions of rho: the first at the observation time, the others at the emission time.
LIGHT_TIME_PASSES = 3


@njit
def _topocentric_distance(t, ux, uy, uz, ox, oy, oz, r0, rdot, rddot, t_ref, near):
    """Root ρ > 0 of |o + ρu| = r(t): the larger one, or with ``near`` the smaller of two
    positive roots; NaN when there is no such root."""
    dt = t - t_ref
    r = r0 + rdot * dt + 0.5 * rddot * dt * dt
    if not r > 0.0:
        return np.nan
    b = ox * ux + oy * uy + oz * uz
    c = ox * ox + oy * oy + oz * oz - r * r
    disc = b * b - c
    if disc < 0.0:
        return np.nan
    root = math.sqrt(disc)
    if near:
        # Two positive roots need c > 0 (r < |o|) and b < 0; the smaller, without
        # cancellation, is c / (root - b).
        if not (c > 0.0 and b < 0.0):
            return np.nan
        return c / (root - b)
    # -b + root without cancellation: when b > 0 write it as -c / (b + root).
    rho = -c / (b + root) if b > 0.0 else root - b
    if not rho > 0.0:
        return np.nan
    return rho


@njit
def project_endpoints(t, u, o, r0, rdot, rddot, t_ref, c_au_per_day, light_time, near, rho,
                      t_emit):
    """Topocentric distance and emission time of each detection under one hypothesis.

    Parameters
    ----------
    t : (n,) float64
        Observation times, MJD TDB.
    u : (n, 3) float64
        Unit vectors of the astrometric directions (ICRF).
    o : (n, 3) float64
        Heliocentric observer positions at ``t``, AU (ICRF).
    r0, rdot, rddot : float
        Hypothesis at ``t_ref``: AU, AU/day, AU/day².
    t_ref : float
        Reference epoch, MJD TDB.
    c_au_per_day : float
        Speed of light, AU/day.
    light_time : bool
        Solve at the emission time (True) or at the observation time (False).
    near : bool
        Take the smaller of two positive roots (NaN where there are not two); else the larger.
    rho : (n,) float64
        Receives ρ, AU (NaN where the hypothesis has no solution).
    t_emit : (n,) float64
        Receives the emission time t − ρ/c (``t`` itself when ``light_time`` is False).
    """
    passes = LIGHT_TIME_PASSES if light_time else 1
    for i in range(t.shape[0]):
        te = t[i]
        d = np.nan
        for _ in range(passes):
            d = _topocentric_distance(
                te, u[i, 0], u[i, 1], u[i, 2], o[i, 0], o[i, 1], o[i, 2], r0, rdot, rddot, t_ref,
                near,
            )
            if not math.isfinite(d):
                break
            if light_time:
                te = t[i] - d / c_au_per_day
        rho[i] = d
        t_emit[i] = te if math.isfinite(d) else np.nan


@njit
def tracklet_states(t_start, u_start, o_start, t_end, u_end, o_end, hypotheses, t_ref,
                    c_au_per_day, light_time, near, states, dt, geodist):
    """Heliocentric states of every tracklet under every hypothesis, before propagation.

    Parameters
    ----------
    t_start, u_start, o_start, t_end, u_end, o_end : float64 arrays
        Tracklet endpoints: times (n,), MJD TDB; unit vectors (n, 3); heliocentric observer
        positions (n, 3), AU.
    hypotheses : (m, 3) float64
        Rows (r₀ AU, ṙ₀ AU/day, r̈ AU/day²) at ``t_ref``.
    t_ref : float
        Reference epoch, MJD TDB.
    c_au_per_day : float
        Speed of light, AU/day.
    light_time : bool
        Correct the endpoint times for light time.
    near : bool
        Use the near roots of both endpoints (see the module docstring); else the far roots.
    states : (m·n, 6) float64
        Receives, in row ``k·n + i`` (hypothesis k, tracklet i), the position at the midpoint of
        the two emission times (mean of the endpoint positions, AU) and the velocity
        (P_end − P_start)/(t_end − t_start), AU/day; NaN when an endpoint is invalid.
    dt : (m·n,) float64
        Receives t_ref − t_mid, days: the step that brings the state to the reference epoch.
    geodist : (m·n,) float64
        Receives the mean topocentric distance of the two endpoints, AU.
    """
    n = t_start.shape[0]
    rho_s = np.empty(n)
    rho_e = np.empty(n)
    te_s = np.empty(n)
    te_e = np.empty(n)
    for k in range(hypotheses.shape[0]):
        r0, rdot, rddot = hypotheses[k, 0], hypotheses[k, 1], hypotheses[k, 2]
        project_endpoints(t_start, u_start, o_start, r0, rdot, rddot, t_ref, c_au_per_day,
                          light_time, near, rho_s, te_s)
        project_endpoints(t_end, u_end, o_end, r0, rdot, rddot, t_ref, c_au_per_day,
                          light_time, near, rho_e, te_e)
        for i in range(n):
            row = k * n + i
            span = te_e[i] - te_s[i]
            if not (math.isfinite(rho_s[i]) and math.isfinite(rho_e[i]) and span > 0.0):
                for j in range(6):
                    states[row, j] = np.nan
                dt[row] = 0.0
                geodist[row] = np.nan
                continue
            for j in range(3):
                ps = o_start[i, j] + rho_s[i] * u_start[i, j]
                pe = o_end[i, j] + rho_e[i] * u_end[i, j]
                states[row, j] = 0.5 * (ps + pe)
                states[row, 3 + j] = (pe - ps) / span
            dt[row] = t_ref - 0.5 * (te_s[i] + te_e[i])
            geodist[row] = 0.5 * (rho_s[i] + rho_e[i])
