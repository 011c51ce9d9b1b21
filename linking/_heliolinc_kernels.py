"""Numba kernels of the HelioLinC3D search: projection of tracklets to heliocentric states,
propagation to the reference epoch and clustering.

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

**Clustering** (:func:`cluster_points`): points i and j are neighbours when their 6-D distance
is at most (radius_i + radius_j)/2, and clusters are the connected components (union-find).
Candidate pairs come from a hash grid of the positions with cells as large as the typical
radius, so a point is compared with those in the same or adjacent cells (a point of larger
radius reaches over more cells): linear in the number of points at survey densities.
"""

import math

import numpy as np

from ephemerides._kepler_kernels import propagate_pairs
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
def emission_distance(t, ux, uy, uz, ox, oy, oz, r0, rdot, rddot, t_ref, c_au_per_day,
                      light_time, near):
    """Topocentric distance and emission time of one detection under one hypothesis.

    Parameters
    ----------
    t : float
        Observation time, MJD TDB.
    ux, uy, uz : float
        Unit vector of the astrometric direction (ICRF).
    ox, oy, oz : float
        Heliocentric observer position at ``t``, AU (ICRF).
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

    Returns
    -------
    rho, t_emit : float
        ρ, AU, and the emission time t − ρ/c (``t`` itself when ``light_time`` is False); both
        NaN where the hypothesis has no solution.
    """
    te = t
    d = np.nan
    for _ in range(LIGHT_TIME_PASSES if light_time else 1):
        d = _topocentric_distance(te, ux, uy, uz, ox, oy, oz, r0, rdot, rddot, t_ref, near)
        if not math.isfinite(d):
            return np.nan, np.nan
        if light_time:
            te = t - d / c_au_per_day
    return d, te


@njit
def _root(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


# Cell indices are offset by 2**20 and packed 21 bits per axis into one int64 key.
_CELL_OFFSET = 1 << 20
_CELL_LIMIT = (1 << 20) - 2


@njit
def _slot(key, size):
    """Hash-table slot of a cell key (Fibonacci hashing; ``size`` a power of two)."""
    return ((key * -7046029254386353131) >> 17) & (size - 1)


@njit
def cluster_points(points, radius, labels, cell_size=0.0):
    """Connected components of the graph joining points within their mean radius.

    Parameters
    ----------
    points : (n, d) float64, d ≥ 3
        Coordinates; the hash grid uses the first three. Rows with a non-finite coordinate or
        radius belong to no cluster.
    radius : (n,) float64
        Radius of each point; i and j are neighbours when |pᵢ − pⱼ| ≤ (rᵢ + rⱼ)/2.
    labels : (n,) int64
        Receives the smallest row index of each point's component, −1 for invalid rows.
    cell_size : float
        Edge of the hash grid's cells; 0: the largest radius. A point whose radius exceeds it
        scans ⌈radius / cell⌉ cells around its own, and a pair is compared from the point that
        reaches farther (the other one's cells, in the same grid), so that a few large radii
        do not make every point scan large cells.
    """
    n, dim = points.shape
    valid = np.zeros(n, dtype=np.bool_)
    largest = 0.0
    extent = 0.0
    for i in range(n):
        ok = math.isfinite(radius[i]) and radius[i] > 0.0
        for j in range(dim):
            ok = ok and math.isfinite(points[i, j])
        valid[i] = ok
        if ok:
            largest = max(largest, radius[i])
            for j in range(3):
                extent = max(extent, abs(points[i, j]))
    if not cell_size > 0.0:
        cell_size = largest
    # Few enough cells per axis to pack into the key, reaches included.
    cell_size = max(cell_size, largest / 16.0, extent / (_CELL_LIMIT - 64))
    m = int(valid.sum())
    # Open-addressing table from a cell's key to the list of its points (head, next).
    size = 1
    while size < 2 * m + 2:
        size *= 2
    table_keys = np.full(size, -1, dtype=np.int64)
    head = np.empty(size, dtype=np.int64)
    following = np.full(n, -1, dtype=np.int64)
    keys = np.empty(n, dtype=np.int64)
    reach = np.zeros(n, dtype=np.int64)
    for i in range(n):
        if not valid[i]:
            continue
        reach[i] = max(1, math.ceil(radius[i] / cell_size))
        key = 0
        for j in range(3):
            key = (key << 21) | (math.floor(points[i, j] / cell_size) + _CELL_OFFSET)
        keys[i] = key
        slot = _slot(key, size)
        while table_keys[slot] != -1 and table_keys[slot] != key:
            slot = (slot + 1) & (size - 1)
        if table_keys[slot] == -1:
            table_keys[slot] = key
            head[slot] = -1
        following[i] = head[slot]
        head[slot] = i
    parent = np.arange(n)
    mask = (1 << 21) - 1
    for i in range(n):
        if not valid[i]:
            continue
        own = keys[i]
        cx, cy, cz = own >> 42, (own >> 21) & mask, own & mask
        k = reach[i]
        for dx in range(-k, k + 1):
            for dy in range(-k, k + 1):
                for dz in range(-k, k + 1):
                    key = ((cx + dx) << 42) | ((cy + dy) << 21) | (cz + dz)
                    if k == 1 and key < own:
                        continue  # a pair of reach-1 points is compared from the smaller key
                    slot = _slot(key, size)
                    while table_keys[slot] != -1 and table_keys[slot] != key:
                        slot = (slot + 1) & (size - 1)
                    if table_keys[slot] == -1:
                        continue
                    j = head[slot]
                    while j != -1:
                        # Each pair once: from the point of larger reach; between equal reaches
                        # from the smaller cell key, or within a cell from the smaller index.
                        if (reach[j] < k or (reach[j] == k and (
                                key > own or (key == own and j > i)))):
                            limit = 0.5 * (radius[i] + radius[j])
                            d2 = 0.0
                            for c in range(dim):
                                diff = points[i, c] - points[j, c]
                                d2 += diff * diff
                            if d2 <= limit * limit:
                                ri, rj = _root(parent, i), _root(parent, j)
                                if ri != rj:
                                    parent[max(ri, rj)] = min(ri, rj)
                        j = following[j]
    for i in range(n):
        labels[i] = _root(parent, i) if valid[i] else -1


@njit
def qualifying_components(labels, tracklet_of, night_index, t_start, t_end, min_tracklets,
                          min_nights, min_arc):
    """The components that can be candidate linkages, with what :func:`linking.heliolinc`
    checks next.

    Parameters
    ----------
    labels : (m,) int64
        Component of each point: the smallest index of its points (:func:`cluster_points`;
        −1: none).
    tracklet_of : (m,) int64
        Tracklet of each point (a tracklet has a point per pass of the hypothesis).
    night_index : (n,) int64
        Night of each tracklet, numbered 0, 1, … .
    t_start, t_end : (n,) float64
        First and last time of each tracklet, days.
    min_tracklets, min_nights : int
        Fewest distinct tracklets, and nights, in a qualifying component.
    min_arc : float
        Shortest time from its first to its last detection, days.

    Returns
    -------
    rows, row_offsets : int64 arrays
        The points of qualifying component k are ``rows[row_offsets[k]:row_offsets[k + 1]]``
        (ascending); components are in the order of their labels.
    groups, group_offsets : int64 arrays
        Its distinct tracklets, sorted: ``groups[group_offsets[k]:group_offsets[k + 1]]``.
    n_nights : int64 array
        Its distinct nights.
    arc : float64 array
        Its time span, days.
    """
    # Only the points of components with enough points are sorted (by label, stably).
    size = np.zeros(labels.size, dtype=np.int64)
    for a in range(labels.size):
        if labels[a] >= 0:
            size[labels[a]] += 1
    candidates = np.empty(labels.size, dtype=np.int64)
    n_candidates = 0
    for a in range(labels.size):
        if labels[a] >= 0 and size[labels[a]] >= min_tracklets:
            candidates[n_candidates] = a
            n_candidates += 1
    candidates = candidates[:n_candidates]
    order = candidates[np.argsort(labels[candidates], kind="mergesort")]
    tracklet_stamp = np.full(t_start.shape[0], -1, dtype=np.int64)
    night_stamp = np.full(night_index.max() + 1 if night_index.size else 1, -1,
                          dtype=np.int64)
    rows = [np.int64(0)][:0]
    groups = [np.int64(0)][:0]
    row_offsets = [0]
    group_offsets = [0]
    nights_out = [np.int64(0)][:0]
    arc_out = [0.0][:0]
    members = np.empty(order.size, dtype=np.int64)
    start = 0
    while start < order.size:
        label = labels[order[start]]
        stop = start + 1
        while stop < order.size and labels[order[stop]] == label:
            stop += 1
        if label >= 0 and stop - start >= min_tracklets:
            count = 0
            nights = 0
            first, last = np.inf, -np.inf
            for a in range(start, stop):
                k = tracklet_of[order[a]]
                if tracklet_stamp[k] != label:
                    tracklet_stamp[k] = label
                    members[count] = k
                    count += 1
                    first = min(first, t_start[k])
                    last = max(last, t_end[k])
                    if night_stamp[night_index[k]] != label:
                        night_stamp[night_index[k]] = label
                        nights += 1
            if count >= min_tracklets and nights >= min_nights and last - first >= min_arc:
                for a in range(start, stop):
                    rows.append(order[a])
                row_offsets.append(len(rows))
                for k in np.sort(members[:count]):
                    groups.append(k)
                group_offsets.append(len(groups))
                nights_out.append(nights)
                arc_out.append(last - first)
        start = stop
    return (np.array(rows, dtype=np.int64), np.array(row_offsets, dtype=np.int64),
            np.array(groups, dtype=np.int64), np.array(group_offsets, dtype=np.int64),
            np.array(nights_out, dtype=np.int64), np.array(arc_out, dtype=np.float64))


@njit
def foreign_to_hypothesis(x, y, z, vx, vy, vz, dt, geodist, rddot_hypothesis, rate_sigma, mu,
                          max_v_inf, accel_tolerance, radius_per_au, min_geodist):
    """Whether a projected tracklet cannot belong to a hypothesis, and is left out of it.

    Parameters
    ----------
    x, y, z, vx, vy, vz : float
        Its heliocentric state under the hypothesis (before propagation), AU, AU/day.
    dt : float
        t_ref − its time, days.
    geodist : float
        Its topocentric distance, AU.
    rddot_hypothesis : float
        The hypothesis' r̈, AU/day².
    rate_sigma : float
        1-σ error of its angular rate per coordinate, radians/day.
    mu : float
        GM of the Sun, AU³/day².
    max_v_inf : float
        Largest hyperbolic excess speed, AU/day (0: bound orbits only).
    accel_tolerance : float
        How many clustering radii the radial miss ½ |r̈_tracklet − r̈| (t_ref − t)² may reach.
    radius_per_au, min_geodist : float
        The clustering radius, as :func:`cluster_projected` sets it.

    Notes
    -----
    A tracklet's velocity error from its astrometry is σ_v ≈ ρ · ``rate_sigma`` (ρ its
    topocentric distance). Two tests, each with a 3 σ_v margin:

    * **energy** — its speed exceeds the escape speed at its distance combined with
      ``max_v_inf`` (HelioLinC3D's ``max_v_inf``);
    * **orbit family** — the hypothesis fixes r̈, hence the transverse speed an object at r
      has (r̈ = v_t²/r − GM/r²); a tracklet whose own transverse speed implies another r̈ is
      placed by the hypothesis at a distance off by ½ Δr̈ (t_ref − t)² at its time t, and one
      off by more than ``accel_tolerance`` clustering radii cannot cluster with its object's
      tracklets at other times: it belongs to another hypothesis of the grid.
    """
    r = math.sqrt(x * x + y * y + z * z)
    v2 = vx * vx + vy * vy + vz * vz
    sigma_v = 3.0 * geodist * rate_sigma
    escape = math.sqrt(2.0 * mu / r + max_v_inf * max_v_inf)
    radial = (x * vx + y * vy + z * vz) / r
    transverse2 = max(v2 - radial * radial, 0.0)
    rddot = transverse2 / r - mu / (r * r)
    rddot_sigma = 2.0 * math.sqrt(transverse2) * sigma_v / r
    miss = max(abs(rddot - rddot_hypothesis) - rddot_sigma, 0.0)
    radius = radius_per_au * max(geodist, min_geodist)
    return (math.sqrt(v2) - sigma_v > escape
            or 0.5 * miss * dt * dt > accel_tolerance * radius)


@njit
def project_hypothesis(t_start, u_start, o_start, t_end, u_end, o_end, hypotheses, near, t_ref,
                       c_au_per_day, light_time, mu, radius_per_au, min_geodist, rate_sigma,
                       max_v_inf, accel_tolerance, states, dt, geodist, point_of):
    """Heliocentric states of the tracklets one hypothesis can hold, before propagation.

    Parameters
    ----------
    t_start, u_start, o_start, t_end, u_end, o_end : float64 arrays
        Tracklet endpoints: times (n,), MJD TDB; unit vectors (n, 3); heliocentric observer
        positions (n, 3), AU.
    hypotheses : (m, 3) float64
        The passes of one hypothesis (the far pass, and the near pass when it applies), rows
        (r₀ AU, ṙ₀ AU/day, r̈ AU/day²) at ``t_ref``; their points are clustered together.
    near : (m,) bool
        Per pass: use the near roots of both endpoints (see the module docstring), else the far
        roots.
    t_ref : float
        Reference epoch, MJD TDB.
    c_au_per_day : float
        Speed of light, AU/day.
    light_time : bool
        Correct the endpoint times for light time.
    mu : float
        GM of the Sun, AU³/day².
    radius_per_au, min_geodist, rate_sigma, max_v_inf, accel_tolerance
        As :func:`foreign_to_hypothesis`; ``rate_sigma`` per tracklet (n,).
    states : (m·n, 6) float64
        Receives in its first ``count`` rows the points kept: the position at the midpoint of
        the two emission times (mean of the endpoint positions, AU) and the velocity
        (P_end − P_start)/(t_end − t_start), AU/day.
    dt : (m·n,) float64
        Receives t_ref − t_mid, days: the step that brings each state to the reference epoch.
    geodist : (m·n,) float64
        Receives the mean topocentric distance of the two endpoints, AU.
    point_of : (m·n,) int64
        Receives the row ``k·n + i`` (pass k, tracklet i) of each point.

    Returns
    -------
    count : int
        Points kept, in row order: those with both endpoints projected and a positive span,
        and not :func:`foreign_to_hypothesis`. Only their rows of the outputs are written, so
        the memory touched, and the clustering, scale with what a hypothesis can hold rather
        than with the whole window.
    """
    n = t_start.shape[0]
    count = 0
    for k in range(hypotheses.shape[0]):
        r0, rdot, rddot = hypotheses[k, 0], hypotheses[k, 1], hypotheses[k, 2]
        for i in range(n):
            rho_s, te_s = emission_distance(
                t_start[i], u_start[i, 0], u_start[i, 1], u_start[i, 2], o_start[i, 0],
                o_start[i, 1], o_start[i, 2], r0, rdot, rddot, t_ref, c_au_per_day, light_time,
                near[k])
            if not math.isfinite(rho_s):
                continue
            rho_e, te_e = emission_distance(
                t_end[i], u_end[i, 0], u_end[i, 1], u_end[i, 2], o_end[i, 0], o_end[i, 1],
                o_end[i, 2], r0, rdot, rddot, t_ref, c_au_per_day, light_time, near[k])
            span = te_e - te_s
            if not (math.isfinite(rho_e) and span > 0.0):
                continue
            for j in range(3):
                ps = o_start[i, j] + rho_s * u_start[i, j]
                pe = o_end[i, j] + rho_e * u_end[i, j]
                states[count, j] = 0.5 * (ps + pe)
                states[count, 3 + j] = (pe - ps) / span
            dt[count] = t_ref - 0.5 * (te_s + te_e)
            geodist[count] = 0.5 * (rho_s + rho_e)
            if foreign_to_hypothesis(
                    states[count, 0], states[count, 1], states[count, 2], states[count, 3],
                    states[count, 4], states[count, 5], dt[count], geodist[count], rddot,
                    rate_sigma[i], mu, max_v_inf, accel_tolerance, radius_per_au, min_geodist):
                continue
            point_of[count] = k * n + i
            count += 1
    return count


@njit
def cluster_projected(states, dt, geodist, rate_sigma, mu, tau, radius_per_au, min_geodist,
                      velocity_sigmas, max_growth, radius, labels):
    """Propagate the points :func:`project_hypothesis` kept to t_ref and cluster them.

    Parameters
    ----------
    states, dt, geodist : (p, 6), (p,), (p,) float64
        The kept points (their first ``count`` rows); ``states`` becomes the points clustered,
        (x, y, z, τvx, τvy, τvz) at t_ref.
    rate_sigma : (p,) float64
        1-σ error of each point's angular rate per coordinate, radians/day.
    mu : float
        GM of the Sun, AU³/day².
    tau : float
        Velocity time scale, days: the clustering space is (x, y, z, τvx, τvy, τvz).
    radius_per_au, min_geodist : float
        A point's base radius is ``radius_per_au · max(topocentric distance, min_geodist)``, AU.
    velocity_sigmas, max_growth : (p,) float64
        Its radius is the larger of the base radius and ``velocity_sigmas`` × its velocity
        error carried to t_ref, ρ σ_rate (|dt| + τ), at most ``max_growth`` × the base radius
        (per point; ``inf``: no cap).
    radius : (p,) float64
        Receives the radius of each point.
    labels : (p,) int64
        Receives the component of each point as :func:`cluster_points`, whose hash cells are
        as large as the largest base radius, or the median radius when that is larger (trail
        tracklets searched alone: their radii are tens of base radii), so that most points
        scan the cells next to their own.
    """
    propagate_pairs(states, dt, mu, states)
    cell = 0.0
    for i in range(states.shape[0]):
        for j in range(3, 6):
            states[i, j] *= tau
        base = radius_per_au * max(geodist[i], min_geodist)
        cell = max(cell, base)
        spread = velocity_sigmas[i] * geodist[i] * rate_sigma[i] * (abs(dt[i]) + tau)
        radius[i] = min(max(base, spread), max_growth[i] * base)
    if states.shape[0] > 0:
        cell = max(cell, np.median(radius))
    cluster_points(states, radius, labels, cell)
