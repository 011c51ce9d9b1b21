"""Numba kernels: the IAS15 integrator for many test particles sharing one step sequence.

Method
------
IAS15 (Rein & Spiegel 2015, MNRAS 446, 1424; after Everhart 1985, "An efficient integrator that
uses Gauss-Radau spacings", IAU Colloq. 83, 185). Over a step [t, t + dt], with τ = (t' − t)/dt
in [0, 1], the acceleration of each particle is the polynomial

    a(τ) = a₀ + b₀ τ + b₁ τ² + … + b₆ τ⁷,

integrated analytically for the velocity and position (the predictor):

    v(τ) = v₀ + τ dt [a₀ + τ (b₀/2 + τ (b₁/3 + … + τ b₆/8))],
    x(τ) = x₀ + τ dt {v₀ + τ dt [a₀/2 + τ (b₀/6 + τ (b₁/12 + … + τ b₆/72))]}.

The b are corrected from accelerations evaluated at the seven Gauss–Radau nodes h₁…h₇ (with
h₀ = 0) through the divided differences g (Newton form a = a₀ + Σ g_j τ (τ − h₁)…(τ − h_j)),
b = C g; the iteration stops when the last correction of b₆ is below 1e-16 of the particle's
acceleration, when it stops shrinking after the second iteration, or after 12 iterations.

The next step size is set by the most demanding particle. Each particle allows the smaller of
two estimates: the PRS23 criterion (Pham, Rein & Spiegel 2024, OJAp 7, 1), which takes the
squared norms y₂ = |a(1)|², y₃ = |ȧ dt|², y₄ = |ä dt²|² of the step's polynomial at τ = 1 and
allows

    √τ² · |dt| · (7! ε)^{1/7}  with  τ² = 2 y₂ / (y₃ + √(y₄ y₂)),

and the original IAS15 estimate (Rein & Spiegel 2015), |dt| · (ε / (max|b₆| /
max|a|))^{1/7} with the particle's own b₆ and acceleration. PRS23 alone follows the dominant
(solar) motion but is blind to a weak, fast perturbation — a main-belt asteroid passing 1.3
million km from (88) Thisbe came out 17 m (1.5 km when integrated alone) off a converged solution
after a year — which the b₆ estimate, a direct measure of the truncation error, catches; PRS23
guards the b₆ estimate against an accidentally small b₆. A step whose new size is below a quarter
of its own is rejected and redone, and the step never grows by more than a factor 4.

The next step's b start from the polynomial of this one shifted to its end and rescaled (the "e"
prediction, plus the correction that the last prediction missed), which usually leaves two
iterations per step.
Positions and velocities are accumulated with compensated (Kahan) summation.

Dense output: a requested time inside an accepted step is evaluated from that step's converged
polynomial (the two formulas above at its τ), so outputs do not depend on where steps end; the
last step is shortened to end exactly on the last requested time.

Batch splitting: particles share one step sequence, so a member in a close encounter would hold
the whole batch to its short steps. When the most demanding particles want steps SPLIT_RATIO
times shorter than at least (1 − SPLIT_FRACTION) of the batch, they are handed back to the caller
with their state at the start of the step, to be integrated apart from there.

Noise: at short steps near a planet, a particle's b₆ is dominated by the rounding of the node
times (ephemeris time near 1e9 s carries ~1e-7 s, a few mm of the Earth's motion), so the b₆
estimate may shorten the PRS23 step at most B6_MAX_SHORTENING-fold.

Layout: per-particle arrays are (…, 3, capacity) with the particle index last and contiguous;
active particles are kept packed at the front (a failed particle is removed by compaction, so no
loop tests a mask). Inputs and outputs are NumPy arrays; the outputs are preallocated by the
caller.
"""

import math

import numpy as np

from ephemerides._force_kernels import accelerations, zonal_in_reach
from ephemerides._numba import njit
from ephemerides._spk_kernels import body_states
from ephemerides.constants import SECONDS_PER_DAY

# Gauss–Radau spacings on [0, 1]: h₀ = 0 and the roots of P₇(2h − 1) + P₈(2h − 1) divided by h
# (Everhart 1985; the values of Rein & Spiegel 2015 and REBOUND, to double precision).
H = np.array([
    0.0,
    0.0562625605369221464656521910318,
    0.180240691736892364987579942780,
    0.352624717113169637373907769648,
    0.547153626330555383001448554766,
    0.734210177215410531523210605558,
    0.885320946839095768090359771030,
    0.977520613561287501891174488626,
])


def _newton_to_power(h):
    """C[k, j]: coefficient of τ^k in (τ − h₁)(τ − h₂)…(τ − h_j), so that b_k = Σ_j C[k, j] g_j."""
    c = np.zeros((7, 7))
    poly = np.array([1.0])
    for j in range(7):
        if j > 0:
            poly = np.convolve(poly, [-h[j], 1.0])
        c[: j + 1, j] = poly
    return c


# b = C g and g = D b (D = C⁻¹, unit upper triangular).
C = _newton_to_power(H)
D = np.linalg.inv(C)
# INV_DH[n, m] = 1 / (h_n − h_m): the divided-difference denominators.
INV_DH = np.zeros((8, 8))
for _n in range(8):
    for _m in range(_n):
        INV_DH[_n, _m] = 1.0 / (H[_n] - H[_m])
# SHIFT[j, p] = binomial(p + 1, j + 1): the polynomial of the step re-expanded about its end,
# e_j = q^{j+1} Σ_p SHIFT[j, p] b_p for a next step q times as long.
SHIFT = np.array([[math.comb(p + 1, j + 1) for p in range(7)] for j in range(7)], dtype=np.float64)

# Step-size control (Rein & Spiegel 2015; REBOUND defaults): a step may shrink to a quarter
# (below that it is redone) and grow at most fourfold.
SAFETY = 0.25
# Predictor-corrector: converged when the last change of b₆ is below this fraction of |a|.
PC_TOLERANCE = 1e-16
PC_MAX_ITERATIONS = 12
# The b₆ estimate may shorten the PRS23 step at most this many times (see the module notes).
B6_MAX_SHORTENING = 16.0
# Particles that want steps this many times shorter than others are integrated apart.
SPLIT_RATIO = 4.0
# ... provided they are at most this fraction of the particles.
SPLIT_FRACTION = 0.5

# Particle status codes (see ephemerides.nbody.STATUS).
OK = 0
IMPACT = 1
ESCAPED = 2
STEP_COLLAPSED = 3


@njit
def _add_compensated(values, compensation, k, i, increment):
    """values[k, i] += increment with Kahan's compensated summation (compensation holds the
    rounding error of the running sum, with the sign convention true = values − compensation)."""
    y = increment - compensation[k, i]
    s = values[k, i] + y
    compensation[k, i] = (s - values[k, i]) - y
    values[k, i] = s


@njit
def _polynomial(x0, v0, a0, csx, csv, b, k, i, tau, dt):
    """Coordinate k of particle i's position and velocity at τ from the step's polynomial
    (Horner form of the series), the compensated-summation terms folded in."""
    px = b[6, k, i] / 72.0
    px = px * tau + b[5, k, i] / 56.0
    px = px * tau + b[4, k, i] / 42.0
    px = px * tau + b[3, k, i] / 30.0
    px = px * tau + b[2, k, i] / 20.0
    px = px * tau + b[1, k, i] / 12.0
    px = px * tau + b[0, k, i] / 6.0
    px = px * tau + a0[k, i] / 2.0
    pv = b[6, k, i] / 8.0
    pv = pv * tau + b[5, k, i] / 7.0
    pv = pv * tau + b[4, k, i] / 6.0
    pv = pv * tau + b[3, k, i] / 5.0
    pv = pv * tau + b[2, k, i] / 4.0
    pv = pv * tau + b[1, k, i] / 3.0
    pv = pv * tau + b[0, k, i] / 2.0
    pv = pv * tau + a0[k, i]
    tdt = tau * dt
    return (x0[k, i] + (tdt * (v0[k, i] + tdt * px) - csx[k, i]),
            v0[k, i] + (tdt * pv - csv[k, i]))


@njit
def _predict(x0, v0, a0, csx, csv, b, n, tau, dt, xs, vs):
    """Positions and velocities of the first n particles at τ from the step's polynomial."""
    for k in range(3):
        for i in range(n):
            xs[k, i], vs[k, i] = _polynomial(x0, v0, a0, csx, csv, b, k, i, tau, dt)


@njit
def _correct(at, a0, g, b, n, node, change):
    """Update g_{node−1} from the acceleration at node h_node and carry its change into b.

    ``change[i]`` receives max_k |Δg_{node−1}| of particle i (for node 7, Δg₆ = Δb₆).
    """
    j = node - 1
    for i in range(n):
        biggest = 0.0
        for k in range(3):
            gk = (at[k, i] - a0[k, i]) * INV_DH[node, 0]
            for m in range(1, node):
                gk = (gk - g[m - 1, k, i]) * INV_DH[node, m]
            delta = gk - g[j, k, i]
            g[j, k, i] = gk
            for p in range(node):
                b[p, k, i] += C[p, j] * delta
            if abs(delta) > biggest:
                biggest = abs(delta)
        change[i] = biggest


@njit
def _step_limits(a0, at, b, n, dt, epsilon, out):
    """Largest next step |dt| each particle allows (inf where it sets no limit).

    The smaller of two estimates: PRS23, √τ² |dt| (7! ε)^{1/7} with the squared timescale
    τ² = 2 y₂ / (y₃ + √(y₄ y₂)) in units of dt² from the step's polynomial at τ = 1 (acceleration,
    jerk and snap); and the original IAS15 error estimate, |dt| (ε / (max|b₆| / max|a|))^{1/7}
    with the particle's own b₆ and acceleration, the latter shortening the former at most
    B6_MAX_SHORTENING-fold. Particles without acceleration or with non-finite values set no
    limit (as in REBOUND).
    """
    root7 = (epsilon * 5040.0) ** (1.0 / 7.0)
    span = abs(dt)
    for i in range(n):
        a2 = 0.0
        y2 = 0.0
        y3 = 0.0
        y4 = 0.0
        a_max = 0.0
        b6_max = 0.0
        for k in range(3):
            a2 += a0[k, i] * a0[k, i]
            end = a0[k, i]
            jerk = 0.0
            snap = 0.0
            for p in range(7):
                end += b[p, k, i]
                jerk += (p + 1) * b[p, k, i]
                snap += (p + 1) * p * b[p, k, i]
            y2 += end * end
            y3 += jerk * jerk
            y4 += snap * snap
            a_max = max(a_max, abs(at[k, i]))
            b6_max = max(b6_max, abs(b[6, k, i]))
        prs23 = np.inf
        ts2 = 2.0 * y2 / (y3 + math.sqrt(y4 * y2))
        if a2 > 0.0 and math.isfinite(a2) and ts2 > 0.0 and math.isfinite(ts2):
            prs23 = math.sqrt(ts2) * span * root7
        truncation = np.inf
        ratio = b6_max / a_max
        if ratio > 0.0 and math.isfinite(ratio):
            truncation = span * (epsilon / ratio) ** (1.0 / 7.0)
        if math.isfinite(prs23):
            out[i] = min(prs23, max(truncation, prs23 / B6_MAX_SHORTENING))
        else:
            out[i] = truncation


@njit
def _dense_output(x0, v0, a0, csx, csv, b, n, tau, dt, failed, orig, rows, col, out):
    """Write the state at τ of every active, non-failed particle i to out[rows[orig[i]], col]."""
    for i in range(n):
        if failed[i]:
            continue
        for k in range(3):
            x, v = _polynomial(x0, v0, a0, csx, csv, b, k, i, tau, dt)
            out[rows[orig[i]], col, k] = x
            out[rows[orig[i]], col, 3 + k] = v


@njit
def _advance(x0, v0, a0, csx, csv, b, n, dt):
    """Move the first n particles to the end of the step (τ = 1), compensated."""
    for k in range(3):
        for i in range(n):
            px = (b[0, k, i] / 6.0 + b[1, k, i] / 12.0 + b[2, k, i] / 20.0 + b[3, k, i] / 30.0
                  + b[4, k, i] / 42.0 + b[5, k, i] / 56.0 + b[6, k, i] / 72.0 + a0[k, i] / 2.0)
            pv = (b[0, k, i] / 2.0 + b[1, k, i] / 3.0 + b[2, k, i] / 4.0 + b[3, k, i] / 5.0
                  + b[4, k, i] / 6.0 + b[5, k, i] / 7.0 + b[6, k, i] / 8.0 + a0[k, i])
            dx = dt * (v0[k, i] + dt * px)
            _add_compensated(x0, csx, k, i, dx)
            _add_compensated(v0, csv, k, i, dt * pv)


@njit
def _predict_next(b_done, e_done, n, ratio, b, e):
    """b and e for a step ``ratio`` times the one whose converged b are ``b_done``.

    e = the polynomial of the done step re-expanded about its end and rescaled; b = e plus the
    part of b_done that the previous prediction e_done missed.
    """
    for k in range(3):
        for i in range(n):
            q = 1.0
            for j in range(7):
                q *= ratio
                s = 0.0
                for p in range(j, 7):
                    s += SHIFT[j, p] * b_done[p, k, i]
                e[j, k, i] = q * s
            for j in range(7):
                b[j, k, i] = e[j, k, i] + (b_done[j, k, i] - e_done[j, k, i])


@njit
def _compact(keep, n, orig, x0, v0, a0, csx, csv, b, e, b_done, e_done):
    """Move the particles with keep[i] to the front, in order; return their number."""
    w = 0
    for i in range(n):
        if not keep[i]:
            continue
        if w != i:
            orig[w] = orig[i]
            for k in range(3):
                x0[k, w] = x0[k, i]
                v0[k, w] = v0[k, i]
                a0[k, w] = a0[k, i]
                csx[k, w] = csx[k, i]
                csv[k, w] = csv[k, i]
                for j in range(7):
                    b[j, k, w] = b[j, k, i]
                    e[j, k, w] = e[j, k, i]
                    b_done[j, k, w] = b_done[j, k, i]
                    e_done[j, k, w] = e_done[j, k, i]
        w += 1
    return w


@njit
def _initial_step(x0, n, bodies, gm, t_span, dt_min):
    """A safe first step: 2 % of the shortest free-fall timescale √(r³/GM) over particles and
    bodies, at least ``dt_min`` (a particle that needs less is stopped by the step control, not
    left to hold the batch at a standstill) and at most the whole span (signed like
    ``t_span``)."""
    shortest = np.inf
    for j in range(bodies.shape[0]):
        for i in range(n):
            dx = x0[0, i] - bodies[j, 0]
            dy = x0[1, i] - bodies[j, 1]
            dz = x0[2, i] - bodies[j, 2]
            r2 = dx * dx + dy * dy + dz * dz
            tau = math.sqrt(r2 * math.sqrt(r2) / gm[j])
            if tau < shortest:
                shortest = tau
    step = min(max(0.02 * shortest, dt_min), abs(t_span))
    return step if t_span > 0.0 else -step


@njit
def integrate(states, rows, t_start, t_out, out_col, et0, epsilon, dt_min, r_escape, data,
              segments, segment_times, chains, gm, radius2, c2, zonal, out, status, impact_body,
              fail_time, evicted_state, evicted_time):
    """Integrate test particles from a common time through a sorted list of output times.

    Times are days from a reference epoch ``et0``; the particles start at ``t_start``.

    Parameters
    ----------
    states : (n, 6) float64
        Barycentric ICRF positions (AU) and velocities (AU/day) at ``t_start``.
    rows : (n,) int64
        Row of ``out``, ``status``, ``impact_body`` and ``fail_time`` of each particle.
    t_start : float
        Start time, days from the reference epoch.
    t_out : (k,) float64
        Output times, days from the reference epoch, all beyond ``t_start`` in the direction of
        integration and ordered in that direction.
    out_col : (k,) int64
        Column of ``out`` that receives each output time.
    et0 : float
        The reference epoch as TDB seconds past J2000.
    epsilon : float
        IAS15 accuracy parameter (dimensionless; REBOUND's default is 1e-9).
    dt_min : float
        Step-size floor, days: a particle whose own step limit falls below it is stopped with
        status STEP_COLLAPSED.
    r_escape : float
        Barycentric distance, AU, beyond which a particle is stopped with status ESCAPED.
    data, segments, segment_times, chains : numpy.ndarray
        The perturber ephemeris (:class:`ephemerides.spk.SpkEphemeris`).
    gm : (n_bodies,) float64
        GM of each perturber, AU³/day².
    radius2 : (n_bodies,) float64
        Squared impact radius of each perturber, AU².
    c2 : float
        Speed of light squared, (AU/day)².
    zonal : (k, 9) float64
        Zonal harmonics of oblate bodies (:func:`ephemerides._force_kernels.accelerations`).
    out : (n_rows, m, 6) float64
        Output states; only the columns in ``out_col`` of particles that have not failed or
        been handed back are written (the caller fills it with NaN first).
    status : (n_rows,) int8
        Set to IMPACT, ESCAPED or STEP_COLLAPSED for particles that fail (left as is otherwise).
    impact_body : (n_rows,) int64
        Index of the body hit, for particles with status IMPACT (left as is otherwise).
    fail_time : (n_rows,) float64
        Start of the step in which the particle failed, days from the reference epoch (left as
        is otherwise). Outputs after that time are not written.
    evicted_state, evicted_time : (n, 6) and (n,) float64
        Particles handed back (see Notes): their state and time (days from the reference
        epoch); ``evicted_time`` is left as is for the others (the caller fills it with NaN).

    Returns
    -------
    numpy.ndarray, int64 (4,)
        Accepted steps, rejected or redone steps, force evaluations, predictor-corrector
        iterations.

    Notes
    -----
    All particles share one step sequence, so one particle in a close encounter would hold the
    others to its short steps. When, at a step, some particles allow steps at least
    ``SPLIT_RATIO`` times longer than the most demanding ones, the demanding ones are handed
    back to the caller with their state at the start of the step, to be integrated on their
    own from there; outputs up to that time have been written for them.
    """
    n = states.shape[0]
    n_bodies = gm.shape[0]
    n_times = t_out.shape[0]
    x0 = np.empty((3, n))
    v0 = np.empty((3, n))
    for i in range(n):
        for k in range(3):
            x0[k, i] = states[i, k]
            v0[k, i] = states[i, 3 + k]
    a0 = np.empty((3, n))
    csx = np.zeros((3, n))
    csv = np.zeros((3, n))
    xs = np.empty((3, n))
    vs = np.empty((3, n))
    at = np.empty((3, n))
    b = np.zeros((7, 3, n))
    e = np.zeros((7, 3, n))
    g = np.empty((7, 3, n))
    b_done = np.zeros((7, 3, n))
    e_done = np.zeros((7, 3, n))
    orig = np.arange(n)
    hit = np.full(n, -1, dtype=np.int64)
    change = np.empty(n)
    limits = np.empty(n)
    failed = np.zeros(n, dtype=np.bool_)
    keep = np.empty(n, dtype=np.bool_)
    bodies = np.empty((8, n_bodies, 6))
    stats = np.zeros(4, dtype=np.int64)

    t_end = t_out[n_times - 1]
    forward = t_end > t_start
    t = t_start
    body_states(data, segments, segment_times, chains, et0 + t * SECONDS_PER_DAY, bodies[0])
    zonal_step = np.empty_like(zonal)  # ``zonal`` with the bodies no particle is near left out
    zonal_in_reach(x0, n, bodies[0], zonal, zonal_step)
    accelerations(x0, v0, n, bodies[0], gm, radius2, c2, zonal_step, a0, hit)
    stats[2] += 1
    dt = _initial_step(x0, n, bodies[0], gm, t_end - t_start, dt_min)
    dt_last_done = 0.0
    next_out = 0
    while n > 0 and next_out < n_times:
        last = (t + dt >= t_end) if forward else (t + dt <= t_end)
        if last:
            dt = t_end - t
        for node in range(1, 8):
            et = et0 + (t + H[node] * dt) * SECONDS_PER_DAY
            body_states(data, segments, segment_times, chains, et, bodies[node])
        for j in range(7):
            for k in range(3):
                for i in range(n):
                    s = b[j, k, i]
                    for p in range(j + 1, 7):
                        s += D[j, p] * b[p, k, i]
                    g[j, k, i] = s
        for i in range(n):
            hit[i] = -1
        error = 1e300
        error_last = 2.0
        iterations = 0
        while error >= PC_TOLERANCE and not (iterations > 2 and error_last <= error) \
                and iterations < PC_MAX_ITERATIONS:
            error_last = error
            iterations += 1
            for node in range(1, 8):
                _predict(x0, v0, a0, csx, csv, b, n, H[node], dt, xs, vs)
                accelerations(xs, vs, n, bodies[node], gm, radius2, c2, zonal_step, at, hit)
                _correct(at, a0, g, b, n, node, change)
            error = 0.0
            for i in range(n):
                scale = max(abs(at[0, i]), abs(at[1, i]), abs(at[2, i]))
                ratio = change[i] / scale
                if ratio > error and math.isfinite(ratio):
                    error = ratio
        stats[2] += 7 * iterations
        stats[3] += iterations

        # A particle that came within a body's radius at any node is stopped (at the start of the
        # step) and the step redone without it: its polynomial is meaningless.
        any_hit = False
        for i in range(n):
            keep[i] = hit[i] < 0
            if not keep[i]:
                status[rows[orig[i]]] = IMPACT
                impact_body[rows[orig[i]]] = hit[i]
                fail_time[rows[orig[i]]] = t
                any_hit = True
        if any_hit:
            n = _compact(keep, n, orig, x0, v0, a0, csx, csv, b, e, b_done, e_done)
            stats[1] += 1
            continue

        # Next step size, set by the most demanding particle.
        _step_limits(a0, at, b, n, dt, epsilon, limits)
        dt_new = np.inf
        for i in range(n):
            dt_new = min(dt_new, limits[i])
        if not math.isfinite(dt_new):
            dt_new = abs(dt) / SAFETY
        if dt_new < dt_min:
            # Stop the particles that alone want steps below the floor, then redo the step.
            for i in range(n):
                keep[i] = limits[i] >= dt_min
                if not keep[i]:
                    status[rows[orig[i]]] = STEP_COLLAPSED
                    fail_time[rows[orig[i]]] = t
            n = _compact(keep, n, orig, x0, v0, a0, csx, csv, b, e, b_done, e_done)
            stats[1] += 1
            continue
        if n > 1 and not last:
            # Hand back the particles that hold the others to much shorter steps.
            split = SPLIT_RATIO * dt_new
            n_slow = 0
            for i in range(n):
                keep[i] = limits[i] >= split
                if not keep[i]:
                    n_slow += 1
            if 0 < n_slow <= SPLIT_FRACTION * n:
                for i in range(n):
                    if not keep[i]:
                        evicted_time[orig[i]] = t
                        for k in range(3):
                            evicted_state[orig[i], k] = x0[k, i] - csx[k, i]
                            evicted_state[orig[i], 3 + k] = v0[k, i] - csv[k, i]
                n = _compact(keep, n, orig, x0, v0, a0, csx, csv, b, e, b_done, e_done)
                stats[1] += 1
                continue
        if not forward:
            dt_new = -dt_new
        if abs(dt_new) < SAFETY * abs(dt):
            if dt_last_done != 0.0:
                _predict_next(b_done, e_done, n, dt_new / dt_last_done, b, e)
            dt = dt_new
            stats[1] += 1
            continue
        dt_new = min(abs(dt_new), abs(dt) / SAFETY)
        if not forward:
            dt_new = -dt_new

        # Accepted. Particles that left (or went non-finite) during the step fail at its start;
        # the state at the last node tells.
        any_failed = False
        for i in range(n):
            r2 = xs[0, i] * xs[0, i] + xs[1, i] * xs[1, i] + xs[2, i] * xs[2, i]
            failed[i] = not (r2 <= r_escape * r_escape
                             and math.isfinite(at[0, i] + at[1, i] + at[2, i])
                             and math.isfinite(vs[0, i] + vs[1, i] + vs[2, i]))
            if failed[i]:
                status[rows[orig[i]]] = ESCAPED
                fail_time[rows[orig[i]]] = t
                any_failed = True
        t_new = t_end if last else t + dt
        while next_out < n_times and (t_out[next_out] <= t_new if forward
                                      else t_out[next_out] >= t_new):
            tau = (t_out[next_out] - t) / dt
            _dense_output(x0, v0, a0, csx, csv, b, n, tau, dt, failed, orig, rows,
                          out_col[next_out], out)
            next_out += 1
        _advance(x0, v0, a0, csx, csv, b, n, dt)
        if any_failed:
            for i in range(n):
                keep[i] = not failed[i]
            n = _compact(keep, n, orig, x0, v0, a0, csx, csv, b, e, b_done, e_done)
        t = t_new
        dt_last_done = dt
        stats[0] += 1
        for j in range(7):
            for k in range(3):
                for i in range(n):
                    b_done[j, k, i] = b[j, k, i]
                    e_done[j, k, i] = e[j, k, i]
        _predict_next(b_done, e_done, n, dt_new / dt, b, e)
        dt = dt_new
        if n > 0 and next_out < n_times:
            body_states(data, segments, segment_times, chains,
                        et0 + t * SECONDS_PER_DAY, bodies[0])
            zonal_in_reach(x0, n, bodies[0], zonal, zonal_step)
            accelerations(x0, v0, n, bodies[0], gm, radius2, c2, zonal_step, a0, hit)
            stats[2] += 1
    return stats
