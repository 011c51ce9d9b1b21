"""Numba kernels of the tracklet builder: NumPy arrays in, NumPy arrays out.

Motion along a short arc is modelled as a straight line at constant speed in the gnomonic
(tangent-plane) projection about a fixed direction: gnomonic projection maps great circles to
straight lines, and constant angular rate differs from constant tangent-plane speed by θ³/3,
under 0.01″ for points within 0.5° of the tangent point.
"""

import numpy as np

from ephemerides._numba import njit


@njit
def tangent_basis(c):
    """East and north unit vectors of the tangent plane at the unit vector ``c``."""
    east = np.array([-c[1], c[0], 0.0])
    norm = np.sqrt(east[0] ** 2 + east[1] ** 2)
    if norm < 1e-12:  # at a pole East is undefined: any axis perpendicular to c will do
        east = np.array([0.0, 1.0, 0.0])
    else:
        east /= norm
    north = np.cross(c, east)
    return east, north


@njit
def _linear_fit(mjd, members, uvec, c, east, north, t_eval0, t_eval1):
    """Least-squares constant-velocity line through the members' tangent-plane positions.

    Returns x0, y0, x1, y1 (radians, at ``t_eval0`` and ``t_eval1``), vx, vy (radians/day) and the
    largest residual (radians).
    """
    m = members.shape[0]
    x = np.empty(m)
    y = np.empty(m)
    t = np.empty(m)
    for a in range(m):
        u = uvec[members[a]]
        w = u[0] * c[0] + u[1] * c[1] + u[2] * c[2]
        x[a] = (u[0] * east[0] + u[1] * east[1] + u[2] * east[2]) / w
        y[a] = (u[0] * north[0] + u[1] * north[1] + u[2] * north[2]) / w
        t[a] = mjd[members[a]]
    tm = t.mean()
    xm = x.mean()
    ym = y.mean()
    stt = 0.0
    stx = 0.0
    sty = 0.0
    for a in range(m):
        dt = t[a] - tm
        stt += dt * dt
        stx += dt * (x[a] - xm)
        sty += dt * (y[a] - ym)
    vx = stx / stt
    vy = sty / stt
    worst = 0.0
    for a in range(m):
        dx = x[a] - (xm + vx * (t[a] - tm))
        dy = y[a] - (ym + vy * (t[a] - tm))
        worst = max(worst, np.sqrt(dx * dx + dy * dy))
    return (xm + vx * (t_eval0 - tm), ym + vy * (t_eval0 - tm),
            xm + vx * (t_eval1 - tm), ym + vy * (t_eval1 - tm), vx, vy, worst)


@njit
def _chain_residual(mjd, uvec, members, c, east, north):
    return _linear_fit(mjd, members, uvec, c, east, north, 0.0, 0.0)[6]


@njit
def _project(u, c, east, north):
    w = u[0] * c[0] + u[1] * c[1] + u[2] * c[2]
    return ((u[0] * east[0] + u[1] * east[1] + u[2] * east[2]) / w,
            (u[0] * north[0] + u[1] * north[1] + u[2] * north[2]) / w)


@njit
def _add_neighbours(d, seed, indptr, neighbours, stamp, candidates, n_candidates):
    """Append the pair-graph neighbours of detection ``d`` not yet stamped for ``seed`` to
    ``candidates`` (grown by doubling); returns the array and the new count."""
    for q in range(indptr[d], indptr[d + 1]):
        k = neighbours[q]
        if stamp[k] != seed:
            stamp[k] = seed
            if n_candidates == candidates.shape[0]:
                candidates = np.concatenate((candidates, np.empty_like(candidates)))
            candidates[n_candidates] = k
            n_candidates += 1
    return candidates, n_candidates


@njit
def grow_chains(uvec, mjd, pair_i, pair_j, indptr, neighbours, min_dt_days, tolerance_rad):
    """Greedily extend every pair into a longer chain of detections on one straight track.

    Parameters
    ----------
    uvec : ndarray (n, 3)
        Unit vectors of the detections.
    mjd : ndarray (n,)
        Detection times, days.
    pair_i, pair_j : ndarray (m,) of int64
        The accepted pairs (the seeds).
    indptr, neighbours : ndarray of int64
        The pair graph in compressed sparse-row form: detection d is paired with
        ``neighbours[indptr[d]:indptr[d + 1]]``.
    min_dt_days : float
        Two members of a chain are at least this far apart in time (no two from one exposure).
    tolerance_rad : float
        Largest tangent-plane residual (radians) of a member from the chain's constant-velocity
        line.

    Returns
    -------
    offsets, members : ndarray of int64
        Chains of three or more detections, chain k being ``members[offsets[k]:offsets[k + 1]]``
        in order of addition (one chain per seed that grew; duplicates are left to the caller).

    Notes
    -----
    Candidates are the pair-graph neighbours of the current members. At each step the candidate
    whose addition gives the smallest largest residual is added if that residual is within
    ``tolerance_rad``; growth stops when no candidate fits. The tangent point is the seed's
    midpoint.
    """
    n = uvec.shape[0]
    stamp = np.full(n, -1, dtype=np.int64)
    offsets = [0]
    out = [np.int64(0)][:0]
    members = np.empty(n if n < 64 else 64, dtype=np.int64)
    candidates = np.empty(64, dtype=np.int64)
    for s in range(pair_i.shape[0]):
        i = pair_i[s]
        j = pair_j[s]
        c = uvec[i] + uvec[j]
        c /= np.sqrt(c[0] ** 2 + c[1] ** 2 + c[2] ** 2)
        east, north = tangent_basis(c)
        xi, yi = _project(uvec[i], c, east, north)
        xj, yj = _project(uvec[j], c, east, north)
        span = mjd[j] - mjd[i]
        n_members = 2
        members[0] = i
        members[1] = j
        stamp[i] = s
        stamp[j] = s
        n_candidates = 0
        for d in (i, j):
            candidates, n_candidates = _add_neighbours(d, s, indptr, neighbours, stamp,
                                                       candidates, n_candidates)
        used = np.zeros(n_candidates, dtype=np.bool_)
        while True:
            best = -1
            best_residual = np.inf
            for a in range(n_candidates):
                if used[a]:
                    continue
                k = candidates[a]
                clash = False
                for b in range(n_members):
                    if abs(mjd[k] - mjd[members[b]]) < min_dt_days:
                        clash = True
                        break
                if clash:
                    continue
                # Necessary condition, cheap: if some line passes within the tolerance of i, j
                # and k, the line through i and j passes within tolerance × (1 + (|tk − ti| +
                # |tk − tj|) / |tj − ti|) of k. Candidates failing it need no fit.
                xk, yk = _project(uvec[k], c, east, north)
                fraction = (mjd[k] - mjd[i]) / span
                gap = np.hypot(xk - (xi + fraction * (xj - xi)), yk - (yi + fraction * (yj - yi)))
                reach = abs(mjd[k] - mjd[i]) + abs(mjd[k] - mjd[j])
                if gap > tolerance_rad * (1.0 + reach / span) * (1.0 + 1e-9):
                    continue
                if n_members == members.shape[0]:
                    members = np.concatenate((members, np.empty_like(members)))
                members[n_members] = k
                residual = _chain_residual(mjd, uvec, members[: n_members + 1], c, east, north)
                if residual < best_residual:
                    best_residual = residual
                    best = a
            if best < 0 or best_residual > tolerance_rad:
                break
            used[best] = True
            k = candidates[best]
            members[n_members] = k
            n_members += 1
            before = n_candidates
            candidates, n_candidates = _add_neighbours(k, s, indptr, neighbours, stamp,
                                                       candidates, n_candidates)
            used = np.concatenate((used, np.zeros(n_candidates - before, dtype=np.bool_)))
        if n_members >= 3:
            for b in range(n_members):
                out.append(members[b])
            offsets.append(len(out))
    return np.array(offsets, dtype=np.int64), np.array(out, dtype=np.int64)


@njit
def fit_tracklets(uvec, mjd, offsets, members):
    """Constant-velocity fit of each tracklet, evaluated at its first and last times.

    Parameters
    ----------
    uvec : ndarray (n, 3)
        Unit vectors of the detections.
    mjd : ndarray (n,)
        Detection times, days.
    offsets, members : ndarray of int64
        Tracklet k is ``members[offsets[k]:offsets[k + 1]]``, sorted by time.

    Returns
    -------
    start, end : ndarray (k, 3)
        Unit vectors of the fitted positions at the first and last member times.
    rate_east, rate_north : ndarray (k,)
        Tangent-plane velocity at the members' mean direction, radians/day (East component is
        dRA·cos Dec / dt).
    worst : ndarray (k,)
        Largest residual of a member, radians.
    """
    k_total = offsets.shape[0] - 1
    start = np.empty((k_total, 3))
    end = np.empty((k_total, 3))
    rate_east = np.empty(k_total)
    rate_north = np.empty(k_total)
    worst = np.empty(k_total)
    for k in range(k_total):
        chain = members[offsets[k]: offsets[k + 1]]
        c = np.zeros(3)
        for a in range(chain.shape[0]):
            c += uvec[chain[a]]
        c /= np.sqrt(c[0] ** 2 + c[1] ** 2 + c[2] ** 2)
        east, north = tangent_basis(c)
        x0, y0, x1, y1, vx, vy, res = _linear_fit(
            mjd, chain, uvec, c, east, north, mjd[chain[0]], mjd[chain[-1]]
        )
        p0 = c + x0 * east + y0 * north
        p1 = c + x1 * east + y1 * north
        start[k] = p0 / np.sqrt(p0 @ p0)
        end[k] = p1 / np.sqrt(p1 @ p1)
        rate_east[k] = vx
        rate_north[k] = vy
        worst[k] = res
    return start, end, rate_east, rate_north, worst
