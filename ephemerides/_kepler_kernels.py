"""Numba kernels: 2-body (Kepler) propagation in universal variables, valid for every conic.

Arrays in and out are float64 and C-contiguous; outputs are preallocated by the caller. Units are
whatever the caller's are, as long as they agree (the toolkit uses AU, days and AU³/day²).

Method
------
The state is advanced with the f and g functions written in the universal anomaly χ
(Danby 1988, *Fundamentals of Celestial Mechanics*, §6.9; Vallado 2013, *Fundamentals of
Astrodynamics and Applications*, algorithm 8). With α = 2/r₀ − v₀²/μ (= 1/a), σ₀ = r₀·v₀/√μ and the
universal functions U₀…U₃ of (χ, α), χ solves the universal Kepler equation

    F(χ) = r₀ U₁ + σ₀ U₂ + U₃ − √μ Δt = 0,     F′(χ) = r(χ) = r₀ U₀ + σ₀ U₁ + U₂ > 0.

F is strictly increasing, so the root is unique and bracketed by [0, √μ Δt / q] (q the perihelion
distance, because r ≥ q), and for ellipses also by ±2π √a. The root is found with the
Laguerre–Conway iteration (Conway 1986, Celest. Mech. 39, 199), which converges from almost any
start, inside that bracket: any step that would leave it is replaced by bisection, so the solver
cannot diverge. Elliptic Δt is first reduced modulo the period to |Δt| ≤ P/2, which keeps χ and the
trigonometric arguments small over any number of revolutions.

U₀…U₃ are evaluated from the Stumpff series when |αχ²| < 1 (no cancellation near parabolic orbits
or short arcs) and from closed trigonometric or hyperbolic forms, written without subtractive
cancellation, otherwise.

Non-finite input (NaN or inf in a state, Δt or μ) gives NaN output; Δt = 0 returns the input state
exactly.
"""

import math

import numpy as np

from ephemerides._numba import njit

TWO_PI = 2.0 * math.pi
# |αχ²| below which the universal functions come from the Stumpff series (10 terms: < 1e-19).
SERIES_Z = 1.0
# Laguerre–Conway order (Conway 1986 recommends 5).
LAGUERRE_N = 5.0
# Once a Laguerre step is below this fraction of |χ|, one more step reaches machine precision
# (the iteration is cubically convergent near the root).
LAST_STEP_REL = 1e-6
# Enough bisections to shrink any bracket to machine precision.
MAX_ITER = 120


@njit
def universal_functions(chi, alpha):
    """Universal functions U₀, U₁, U₂, U₃ of the universal anomaly ``chi`` for ``alpha = 1/a``.

    U₀ = 1 − αU₂, U₁ = χ − αU₃, U₂ = χ² c₂(αχ²), U₃ = χ³ c₃(αχ²), with the Stumpff functions
    c₂, c₃; for an ellipse U₀ = cos s, U₁ = sin s/√α, U₂ = (1 − cos s)/α, U₃ = (s − sin s)/α^{3/2}
    with s = χ√α (the change in eccentric anomaly).
    """
    z = alpha * chi * chi
    if abs(z) < SERIES_Z:
        # c2 = sum (-z)^k/(2k+2)!, c3 = sum (-z)^k/(2k+3)!, in nested (Horner) form.
        t2 = 1.0
        t3 = 1.0
        for k in range(9, 0, -1):
            t2 = 1.0 - z * t2 / ((2 * k + 1) * (2 * k + 2))
            t3 = 1.0 - z * t3 / ((2 * k + 2) * (2 * k + 3))
        c2 = 0.5 * t2
        c3 = t3 / 6.0
        chi2 = chi * chi
        u2 = chi2 * c2
        u3 = chi2 * chi * c3
        return 1.0 - z * c2, chi * (1.0 - z * c3), u2, u3
    if z > 0.0:
        sa = math.sqrt(alpha)
        s = sa * chi
        sin_s = math.sin(s)
        half = math.sin(0.5 * s)
        return math.cos(s), sin_s / sa, 2.0 * half * half / alpha, (s - sin_s) / (alpha * sa)
    sb = math.sqrt(-alpha)
    s = sb * chi
    sinh_s = math.sinh(s)
    half = math.sinh(0.5 * s)
    return math.cosh(s), sinh_s / sb, -2.0 * half * half / alpha, (sinh_s - s) / (-alpha * sb)


@njit
def orbit_invariants(x, y, z, vx, vy, vz, mu):
    """Quantities of one state that every propagation of it reuses.

    Returns
    -------
    r0, sigma0, alpha, q, period
        |r|, r·v/√μ, 1/a = 2/r − v²/μ, the perihelion distance q = p/(1 + e) with p = |r×v|²/μ,
        and the period 2π/(√μ α^{3/2}) for ellipses (inf otherwise).
    """
    r0 = math.sqrt(x * x + y * y + z * z)
    sqmu = math.sqrt(mu)
    sigma0 = (x * vx + y * vy + z * vz) / sqmu
    alpha = 2.0 / r0 - (vx * vx + vy * vy + vz * vz) / mu
    hx = y * vz - z * vy
    hy = z * vx - x * vz
    hz = x * vy - y * vx
    p = (hx * hx + hy * hy + hz * hz) / mu
    # e cos E0 = 1 - r0 alpha and e sin E0 = sigma0 sqrt(alpha) (hyperbolic analogues with sinh).
    ecos = 1.0 - r0 * alpha
    e2 = ecos * ecos + sigma0 * sigma0 * alpha
    e = math.sqrt(e2) if e2 > 0.0 else 0.0
    q = p / (1.0 + e)
    period = TWO_PI / (sqmu * alpha * math.sqrt(alpha)) if alpha > 0.0 else np.inf
    return r0, sigma0, alpha, q, period


@njit
def _start(r0, sigma0, alpha, q, sqmu, dt):
    """Starting χ and a bound B with the root in [0, B] (dt > 0) or [−B, 0] (dt < 0).

    The start is a short-arc Taylor step, or Danby's starter in eccentric (E = M + 0.85 e sgn sin M)
    or hyperbolic (F = sgn M ln(2|M|/e + 1.8)) anomaly. B = √μ|dt|/q always holds (r ≥ q); ellipses
    also have |χ| ≤ 2π√a once |dt| ≤ P/2, and hyperbolas |F| ≤ asinh(|M|/(e − 1)) because
    e sinh F − F ≥ (e − 1) sinh F, which keeps sinh(√−α χ) from overflowing.
    """
    # r >= q; the factor covers rounding in q when the arc hugs perihelion (root ~ bound).
    bound = sqmu * abs(dt) / q * (1.0 + 1e-12)
    chi_lin = sqmu * dt / r0
    short = abs(alpha) * chi_lin * chi_lin < 0.01
    ecos = 1.0 - r0 * alpha
    e = 1.0 - alpha * q
    if alpha > 0.0:
        sa = math.sqrt(alpha)
        bound = min(bound, TWO_PI / sa)
        if short:
            return chi_lin * (1.0 - 0.5 * sigma0 * chi_lin / r0), bound
        esin = sigma0 * sa
        e0 = math.atan2(esin, ecos)
        m = e0 - esin + sqmu * alpha * sa * dt
        s = math.sin(m)
        sign = 1.0 if s > 0.0 else (-1.0 if s < 0.0 else 0.0)
        return (m + 0.85 * e * sign - e0) / sa, bound
    if alpha == 0.0:
        return chi_lin * (1.0 - 0.5 * sigma0 * chi_lin / r0), bound
    sb = math.sqrt(-alpha)
    esinh = sigma0 * sb
    f0 = math.asinh(esinh / e)
    n_dt = sqmu * (-alpha) * sb * dt
    m = esinh - f0 + n_dt
    # M carries rounding of up to a few ulp of its terms, which can exceed M itself when the
    # orbit is parabolic to rounding (e - 1 ~ 1e-17); e - 1 = -alpha q keeps its digits, which
    # 1 - alpha q - 1 would not; the 1% margin covers the rest.
    m_abs = abs(m) + 4e-16 * (abs(esinh) + abs(f0) + abs(n_dt))
    f_max = 1.01 * math.asinh(m_abs / (-alpha * q)) + 1e-12
    bound = min(bound, (f_max - f0) / sb if dt > 0.0 else (f_max + f0) / sb)
    if short:
        return chi_lin * (1.0 - 0.5 * sigma0 * chi_lin / r0), bound
    f = math.log(2.0 * abs(m) / e + 1.8)
    if m < 0.0:
        f = -f
    return (f - f0) / sb, bound


@njit
def solve_universal(r0, sigma0, alpha, q, sqmu, dt):
    """Universal functions U₀…U₃ at the universal anomaly χ of the time step ``dt``.

    ``dt`` must already be reduced (|dt| ≤ P/2 for ellipses) and non-zero. Returns
    (u0, u1, u2, u3); NaN when no finite bracket exists (q = 0 on an unbound orbit: a radial
    trajectory through the attracting centre).
    """
    target = sqmu * dt
    chi, bound = _start(r0, sigma0, alpha, q, sqmu, dt)
    if not math.isfinite(bound):
        return np.nan, np.nan, np.nan, np.nan
    if dt > 0.0:
        lo, hi = 0.0, bound
    else:
        lo, hi = -bound, 0.0
    if not lo < chi < hi:
        chi = 0.5 * (lo + hi)
    n = LAGUERRE_N
    for _ in range(MAX_ITER):
        u0, u1, u2, u3 = universal_functions(chi, alpha)
        f = r0 * u1 + sigma0 * u2 + u3 - target
        if f == 0.0:
            return u0, u1, u2, u3
        if f < 0.0:
            lo = chi
        else:
            hi = chi
        r = r0 * u0 + sigma0 * u1 + u2
        dr = (1.0 - alpha * r0) * u1 + sigma0 * u0
        disc = abs((n - 1.0) * (n - 1.0) * r * r - n * (n - 1.0) * f * dr)
        step = n * f / (r + math.sqrt(disc))
        new = chi - step
        if lo < new < hi:
            if abs(step) <= LAST_STEP_REL * abs(chi):
                chi = new
                break
        else:
            new = 0.5 * (lo + hi)
            if new == lo or new == hi:
                break
        chi = new
    return universal_functions(chi, alpha)


@njit
def propagate_one(x, y, z, vx, vy, vz, r0, sigma0, alpha, q, period, mu, dt):
    """State after ``dt`` from (x…vz), given that state's ``orbit_invariants``.

    Returns six floats. ``dt == 0`` (or a whole number of periods) returns the input exactly.
    """
    if dt == 0.0:
        return x, y, z, vx, vy, vz
    finite = math.isfinite(dt) and math.isfinite(alpha) and math.isfinite(sigma0)
    if not (finite and math.isfinite(mu) and mu > 0.0):
        return np.nan, np.nan, np.nan, np.nan, np.nan, np.nan
    if alpha > 0.0 and abs(dt) > 0.5 * period:
        dt = dt - period * np.rint(dt / period)
        if dt == 0.0:
            return x, y, z, vx, vy, vz
    sqmu = math.sqrt(mu)
    u0, u1, u2, _ = solve_universal(r0, sigma0, alpha, q, sqmu, dt)
    r = r0 * u0 + sigma0 * u1 + u2
    f = 1.0 - u2 / r0
    # g = dt - U3/sqrt(mu), written as (r0 U1 + sigma0 U2)/sqrt(mu) to avoid the subtraction.
    g = (r0 * u1 + sigma0 * u2) / sqmu
    fdot = -sqmu * u1 / (r * r0)
    gdot = 1.0 - u2 / r
    return (
        f * x + g * vx,
        f * y + g * vy,
        f * z + g * vz,
        fdot * x + gdot * vx,
        fdot * y + gdot * vy,
        fdot * z + gdot * vz,
    )


@njit
def propagate_pairs(states, dt, mu, out):
    """Advance each state by its own time step.

    Parameters
    ----------
    states : (n, 6) float64
        Positions and velocities (e.g. AU, AU/day), relative to the attracting body.
    dt : (n,) float64
        Time step of each row (days; negative steps go backwards).
    mu : float
        Gravitational parameter (AU³/day²).
    out : (n, 6) float64
        Receives the propagated states. May be ``states`` itself. A row with a non-finite
        position or velocity gives NaN at once.
    """
    for i in range(states.shape[0]):
        x, y, z = states[i, 0], states[i, 1], states[i, 2]
        vx, vy, vz = states[i, 3], states[i, 4], states[i, 5]
        if not (np.isfinite(x) and np.isfinite(y) and np.isfinite(z) and np.isfinite(vx)
                and np.isfinite(vy) and np.isfinite(vz)):
            for k in range(6):
                out[i, k] = np.nan
            continue
        r0, sigma0, alpha, q, period = orbit_invariants(x, y, z, vx, vy, vz, mu)
        res = propagate_one(x, y, z, vx, vy, vz, r0, sigma0, alpha, q, period, mu, dt[i])
        for k in range(6):
            out[i, k] = res[k]


@njit
def propagate_grid(states, epochs, times, mu, out):
    """Propagate every state to every time.

    Parameters
    ----------
    states : (n, 6) float64
        States at their epochs.
    epochs : (n,) float64
        Epoch of each state (MJD, days).
    times : (m,) float64
        Target times (MJD, same time scale).
    mu : float
        Gravitational parameter.
    out : (n, m, 6) float64
        Receives the state of object i at time j in ``out[i, j]``.
    """
    for i in range(states.shape[0]):
        x, y, z = states[i, 0], states[i, 1], states[i, 2]
        vx, vy, vz = states[i, 3], states[i, 4], states[i, 5]
        r0, sigma0, alpha, q, period = orbit_invariants(x, y, z, vx, vy, vz, mu)
        for j in range(times.shape[0]):
            res = propagate_one(
                x, y, z, vx, vy, vz, r0, sigma0, alpha, q, period, mu, times[j] - epochs[i]
            )
            for k in range(6):
                out[i, j, k] = res[k]
