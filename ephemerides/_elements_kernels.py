"""Numba kernels: cartesian states ↔ Keplerian and cometary orbital elements, every conic type.

Arrays in and out are float64 and C-contiguous; outputs are preallocated by the caller. Angles are
in radians, lengths and times in the caller's units (the toolkit uses AU, days, AU³/day²).

Element sets (one row each)
---------------------------
Keplerian: a, e, i, Ω, ω, M. a < 0 for hyperbolas, where M = e sinh F − F; parabolas (e = 1) have
no finite a: ``states_to_keplerian`` returns a = inf and M = NaN, ``keplerian_to_states`` NaN.
Cometary: q, e, i, Ω, ω, tp (time of perihelion passage; for an ellipse the one nearest the
epoch, |epoch − tp| ≤ P/2).

Method
------
Elements → state: the perihelion state (r = q P̂, v = √(μ(1 + e)/q) Q̂) is propagated by
Δt = epoch − tp (Keplerian: Δt = M/n) with the universal-variable kernel, fed the exact invariants
r₀ = q, σ₀ = 0, α = (1 − e)/q rather than ones recomputed from the perihelion state, which would
lose log10(1/(1 − e)) digits in α near e = 1. One formula serves ellipses, parabolas and
hyperbolas, and e = 0.999999 or 1.000001 is as accurate as e = 0.5.

State → elements: h = r × v, p = h²/μ, e cos ν = p/r − 1, e sin ν = h (r·v)/(μ r),
e = hypot(e cos ν, e sin ν), q = p/(1 + e), α = (1 − e)/q. The time since perihelion is written in
the same universal anomaly the forward conversion uses: χ = E/√α (ellipse,
E = 2 atan2(√(1 − e) sin ν/2, √(1 + e) cos ν/2)), χ = F/√−α (hyperbola,
F = 2 atanh(√(e − 1) tan ν/2 / √(e + 1))), χ = √(2q) tan ν/2 (parabola), and
Δt = (q U₁(χ) + U₃(χ))/√μ, i.e. Kepler's and Barker's equations without their subtractive
cancellation near perihelion or near e = 1. M = n Δt with n = √(μ|α|³).

Conventions for undefined angles
--------------------------------
- i = 0 or 180° exactly (h along ±z): Ω = 0, so ω is measured from the +x axis (the node is put
  on the x axis).
- e = 0 exactly: ω = 0 and ν (and M) is the argument of latitude, measured from the node.
- Otherwise ω = u − ν with u the argument of latitude; for nearly circular or nearly equatorial
  orbits Ω, ω, M are individually ill-conditioned while Ω + ω + M and the state are not.
Output angles: i ∈ [0, π], Ω and ω ∈ [0, 2π). M is signed, counted from the nearest perihelion:
elliptic M ∈ [−π, π], hyperbolic M unbounded. A near-parabolic ellipse just before perihelion has
M ≈ −1e-9; written as 2π − 1e-9 it would keep only a few significant digits, and a/M would then
place the object thousands of km off.

Non-finite input gives NaN output.
"""

import math

import numpy as np

from ephemerides._kepler_kernels import TWO_PI, propagate_one, universal_functions
from ephemerides._numba import njit


@njit
def _wrap(angle):
    """Angle reduced to [0, 2π)."""
    w = angle % TWO_PI
    return 0.0 if w == TWO_PI else w


@njit
def _all_finite(a, b, c, d, e, f):
    return (
        math.isfinite(a)
        and math.isfinite(b)
        and math.isfinite(c)
        and math.isfinite(d)
        and math.isfinite(e)
        and math.isfinite(f)
    )


@njit
def _perihelion_propagated(q, e, inc, node, argperi, dt, mu):
    """State at time ``dt`` after perihelion passage of the conic (q, e, i, Ω, ω)."""
    if not _all_finite(q, e, inc, node, argperi, dt):
        return np.nan, np.nan, np.nan, np.nan, np.nan, np.nan
    cn, sn = math.cos(node), math.sin(node)
    # sin(float(pi)) is 1.2e-16: keep i = 180 degrees exactly in the plane, as i = 0 is.
    ci, si = math.cos(inc), (0.0 if inc == math.pi else math.sin(inc))
    cw, sw = math.cos(argperi), math.sin(argperi)
    # P: unit vector to perihelion; Q: 90 degrees ahead of it in the direction of motion.
    px = cn * cw - sn * sw * ci
    py = sn * cw + cn * sw * ci
    pz = sw * si
    qx = -cn * sw - sn * cw * ci
    qy = -sn * sw + cn * cw * ci
    qz = cw * si
    vp = math.sqrt(mu * (1.0 + e) / q)
    alpha = (1.0 - e) / q
    period = TWO_PI / (math.sqrt(mu) * alpha * math.sqrt(alpha)) if alpha > 0.0 else np.inf
    return propagate_one(
        q * px, q * py, q * pz, vp * qx, vp * qy, vp * qz, q, 0.0, alpha, q, period, mu, dt
    )


@njit
def cometary_to_states(elements, epochs, mu, out):
    """Cartesian states from cometary elements.

    Parameters
    ----------
    elements : (n, 6) float64
        q, e, i, Ω, ω (radians), tp (same time unit and scale as ``epochs``).
    epochs : (n,) float64
        Epoch of each output state.
    mu : float
        Gravitational parameter.
    out : (n, 6) float64
        Receives x, y, z, vx, vy, vz at the epochs.
    """
    for k in range(elements.shape[0]):
        el = elements[k]
        res = _perihelion_propagated(el[0], el[1], el[2], el[3], el[4], epochs[k] - el[5], mu)
        for j in range(6):
            out[k, j] = res[j]


@njit
def keplerian_to_states(elements, mu, out):
    """Cartesian states from Keplerian elements.

    Parameters
    ----------
    elements : (n, 6) float64
        a (negative for hyperbolas), e, i, Ω, ω, M (radians). e = 1 gives NaN.
    mu : float
        Gravitational parameter.
    out : (n, 6) float64
        Receives x, y, z, vx, vy, vz.
    """
    for k in range(elements.shape[0]):
        a, e, m = elements[k, 0], elements[k, 1], elements[k, 5]
        if e == 1.0:
            for j in range(6):
                out[k, j] = np.nan
            continue
        if e < 1.0:
            # Keep dt within half a period of perihelion.
            m = m - TWO_PI * np.rint(m / TWO_PI)
        abs_a = abs(a)
        dt = m / math.sqrt(mu / (abs_a * abs_a * abs_a))
        el = elements[k]
        res = _perihelion_propagated(a * (1.0 - e), e, el[2], el[3], el[4], dt, mu)
        for j in range(6):
            out[k, j] = res[j]


@njit
def _elements_one(x, y, z, vx, vy, vz, mu):
    """(q, e, i, Ω, ω, α, Δt since perihelion) of one state; see the module notes."""
    if not _all_finite(x, y, z, vx, vy, vz):
        return np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan
    r = math.sqrt(x * x + y * y + z * z)
    rv = x * vx + y * vy + z * vz
    hx = y * vz - z * vy
    hy = z * vx - x * vz
    hz = x * vy - y * vx
    hxy = math.sqrt(hx * hx + hy * hy)
    h = math.sqrt(hxy * hxy + hz * hz)
    p = h * h / mu
    ecos = p / r - 1.0
    esin = h * rv / (mu * r)
    e = math.hypot(ecos, esin)
    inc = math.atan2(hxy, hz)
    node = math.atan2(hx, -hy) if hxy != 0.0 else 0.0
    cn, sn = math.cos(node), math.sin(node)
    # Argument of latitude u: angle from the node n = (cos node, sin node, 0) towards h x n.
    mx = -hz * sn
    my = hz * cn
    mz = hx * sn - hy * cn
    u = math.atan2((x * mx + y * my + z * mz) / h, x * cn + y * sn)
    if e == 0.0:
        nu = u
        argperi = 0.0
    else:
        nu = math.atan2(esin, ecos)
        argperi = _wrap(u - nu)
    q = p / (1.0 + e)
    alpha = (1.0 - e) / q
    s_half, c_half = math.sin(0.5 * nu), math.cos(0.5 * nu)
    if e < 1.0:
        chi = 2.0 * math.atan2(math.sqrt(1.0 - e) * s_half, math.sqrt(1.0 + e) * c_half)
        chi /= math.sqrt(alpha)
    elif e > 1.0:
        w = math.sqrt(e - 1.0) * s_half / (math.sqrt(e + 1.0) * c_half)
        chi = 2.0 * math.atanh(w) / math.sqrt(-alpha)
    else:
        chi = math.sqrt(2.0 * q) * s_half / c_half
    _, u1, _, u3 = universal_functions(chi, alpha)
    dt = (q * u1 + u3) / math.sqrt(mu)
    return q, e, inc, _wrap(node), argperi, alpha, dt


@njit
def states_to_cometary(states, epochs, mu, out):
    """Cometary elements of cartesian states.

    Parameters
    ----------
    states : (n, 6) float64
        x, y, z, vx, vy, vz relative to the attracting body.
    epochs : (n,) float64
        Epoch of each state.
    mu : float
        Gravitational parameter.
    out : (n, 6) float64
        Receives q, e, i, Ω, ω (radians), tp (epoch − time since perihelion).
    """
    for k in range(states.shape[0]):
        s = states[k]
        q, e, inc, node, argperi, _, dt = _elements_one(s[0], s[1], s[2], s[3], s[4], s[5], mu)
        out[k, 0] = q
        out[k, 1] = e
        out[k, 2] = inc
        out[k, 3] = node
        out[k, 4] = argperi
        out[k, 5] = epochs[k] - dt


@njit
def states_to_keplerian(states, mu, out):
    """Keplerian elements of cartesian states.

    Parameters
    ----------
    states : (n, 6) float64
        x, y, z, vx, vy, vz relative to the attracting body.
    mu : float
        Gravitational parameter.
    out : (n, 6) float64
        Receives a (negative for hyperbolas, inf for e = 1), e, i, Ω, ω, M (radians; NaN for
        e = 1; in [−π, π] for ellipses).
    """
    for k in range(states.shape[0]):
        s = states[k]
        _, e, inc, node, argperi, alpha, dt = _elements_one(s[0], s[1], s[2], s[3], s[4], s[5], mu)
        abs_alpha = abs(alpha)
        m = dt * math.sqrt(mu * abs_alpha) * abs_alpha
        if e == 1.0:
            m = np.nan
        out[k, 0] = 1.0 / alpha
        out[k, 1] = e
        out[k, 2] = inc
        out[k, 3] = node
        out[k, 4] = argperi
        out[k, 5] = m
