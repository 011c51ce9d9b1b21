"""2-body propagation: kernels vs slow references, vs SPICE's prop2b, invariants, edge cases."""

import math

import numpy as np
import pytest
import spiceypy
from references import bisect_increasing

from ephemerides._kepler_kernels import (
    orbit_invariants,
    propagate_grid,
    propagate_pairs,
    universal_functions,
)
from ephemerides.constants import AU_KM, GM_SUN_AU3_PER_DAY2
from ephemerides.twobody import kepler_step, propagate_2body

MU = GM_SUN_AU3_PER_DAY2
METRE_AU = 1e-3 / AU_KM


# ---------------------------------------------------------------- slow, obvious references


def reference_universal(chi, alpha):
    """U0..U3 from the Stumpff functions: 40-term series for |z| < 4, textbook closed forms else."""
    z = alpha * chi * chi
    if abs(z) < 4.0:
        c2 = sum((-z) ** k / math.factorial(2 * k + 2) for k in range(40))
        c3 = sum((-z) ** k / math.factorial(2 * k + 3) for k in range(40))
    elif z > 0:
        s = math.sqrt(z)
        c2, c3 = (1 - math.cos(s)) / z, (s - math.sin(s)) / s**3
    else:
        s = math.sqrt(-z)
        c2, c3 = (math.cosh(s) - 1) / -z, (math.sinh(s) - s) / s**3
    return 1 - z * c2, chi * (1 - z * c3), chi * chi * c2, chi**3 * c3


def reference_kepler_step(state, dt, mu):
    """Slow reference: classical elements, Kepler's equation by bisection, back to a state.

    Ellipses and hyperbolas only (not near e = 1, where these textbook formulas lose digits).
    """
    r, v = np.asarray(state[:3]), np.asarray(state[3:])
    rn = np.linalg.norm(r)
    h = np.cross(r, v)
    evec = ((v @ v - mu / rn) * r - (r @ v) * v) / mu
    e = np.linalg.norm(evec)
    a = 1.0 / (2.0 / rn - (v @ v) / mu)
    p_hat = evec / e
    q_hat = np.cross(h / np.linalg.norm(h), p_hat)
    x0, y0 = r @ p_hat, r @ q_hat
    if e < 1:
        b = a * math.sqrt(1 - e * e)
        n = math.sqrt(mu / a**3)
        e0 = math.atan2(y0 / b, x0 / a + e)
        m = e0 - e * math.sin(e0) + n * dt
        m -= 2 * math.pi * round(m / (2 * math.pi))
        ea = bisect_increasing(lambda E: E - e * math.sin(E) - m, m - 1.0, m + 1.0)
        edot = n / (1 - e * math.cos(ea))
        x, y = a * (math.cos(ea) - e), b * math.sin(ea)
        vx, vy = -a * math.sin(ea) * edot, b * math.cos(ea) * edot
    else:
        b = -a * math.sqrt(e * e - 1)
        n = math.sqrt(mu / (-a) ** 3)
        f0 = math.asinh(y0 / b)
        m = e * math.sinh(f0) - f0 + n * dt
        limit = math.asinh(abs(m) / (e - 1)) + 1.0
        fa = bisect_increasing(lambda F: e * math.sinh(F) - F - m, -limit, limit)
        fdot = n / (e * math.cosh(fa) - 1)
        x, y = a * (math.cosh(fa) - e), b * math.sinh(fa)
        vx, vy = a * math.sinh(fa) * fdot, b * math.cosh(fa) * fdot
    return np.concatenate([x * p_hat + y * q_hat, vx * p_hat + vy * q_hat])


# ---------------------------------------------------------------- test orbits


def conic_states(rng, n, e_lo, e_hi, q_lo=0.5, q_hi=5.0, m_max=1.0):
    """States of random orbits built by SPICE's conics (q, e, angles, mean anomaly |M| <= m_max)."""
    out = np.empty((n, 6))
    for k in range(n):
        q = rng.uniform(q_lo, q_hi)
        e = rng.uniform(e_lo, e_hi)
        angles = rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi)
        m0 = rng.uniform(-m_max, m_max)
        out[k] = spiceypy.conics([q, e, *angles, m0, 0.0, MU], 0.0)
    return out


def relative_position_error(a, b):
    return np.max(np.abs(a[:, :3] - b[:, :3]), axis=1) / np.linalg.norm(b[:, :3], axis=1)


# ---------------------------------------------------------------- universal functions


@pytest.mark.parametrize("alpha", [-2.0, -0.3, -1e-9, 0.0, 1e-9, 0.04, 1.0, 3.0])
def test_universal_functions_match_reference(alpha):
    # Includes points on both sides of the series/closed-form switch at |alpha chi^2| = 1.
    chis = [-7.0, -2.0, -1.0000001, -0.3, 1e-8, 0.5, 0.9999999, 1.0000001, 2.5, 6.0]
    if alpha != 0:
        edge = 1.0 / math.sqrt(abs(alpha))
        chis += [edge * (1 - 1e-12), edge * (1 + 1e-12), 0.5 * math.pi * edge]
    for chi in chis:
        got = universal_functions(chi, alpha)
        want = reference_universal(chi, alpha)
        for k in range(4):
            scale = max(1.0, abs(chi) ** k, abs(want[k]))
            assert abs(got[k] - want[k]) <= 1e-14 * scale, (alpha, chi, k, got[k], want[k])


# ---------------------------------------------------------------- kernels vs reference


@pytest.mark.parametrize(
    ("e_lo", "e_hi"),
    [(0.0, 0.3), (0.3, 0.9), (1.2, 3.0)],
    ids=["low-e", "eccentric", "hyperbolic"],
)
def test_propagate_pairs_matches_reference(e_lo, e_hi):
    rng = np.random.default_rng(11)
    states = conic_states(rng, 40, e_lo, e_hi)
    dt = rng.uniform(-3000, 3000, len(states))
    out = np.empty_like(states)
    propagate_pairs(states, dt, MU, out)
    ref = np.array([reference_kepler_step(s, t, MU) for s, t in zip(states, dt, strict=True)])
    assert relative_position_error(out, ref).max() < 1e-11
    vel = np.abs(out[:, 3:] - ref[:, 3:]).max(axis=1) / np.linalg.norm(ref[:, 3:], axis=1)
    assert vel.max() < 1e-11


def test_propagate_grid_matches_reference_and_pairs():
    rng = np.random.default_rng(12)
    states = np.vstack([conic_states(rng, 3, 0.0, 0.8), conic_states(rng, 2, 1.3, 2.0)])
    epochs = rng.uniform(59000, 61000, len(states))
    times = np.array([58000.0, 59999.5, 60000.0, 60400.25, 63000.0])
    out = np.empty((len(states), len(times), 6))
    propagate_grid(states, epochs, times, MU, out)
    for i, state in enumerate(states):
        ref = np.array([reference_kepler_step(state, t - epochs[i], MU) for t in times])
        assert relative_position_error(out[i], ref).max() < 1e-11
        pairs = np.empty((len(times), 6))
        propagate_pairs(np.repeat(state[None], len(times), 0), times - epochs[i], MU, pairs)
        np.testing.assert_array_equal(out[i], pairs)


def test_orbit_invariants_match_definitions():
    state = np.array([1.1, -0.4, 0.2, 0.004, 0.015, -0.002])
    r0, sigma0, alpha, q, period = orbit_invariants(*state, MU)
    r, v = state[:3], state[3:]
    a = 1 / (2 / np.linalg.norm(r) - v @ v / MU)
    e = np.linalg.norm(((v @ v - MU / np.linalg.norm(r)) * r - (r @ v) * v) / MU)
    assert r0 == pytest.approx(np.linalg.norm(r), rel=1e-15)
    assert sigma0 == pytest.approx(r @ v / math.sqrt(MU), rel=1e-15)
    assert alpha == pytest.approx(1 / a, rel=1e-14)
    assert q == pytest.approx(a * (1 - e), rel=1e-13)
    assert period == pytest.approx(2 * math.pi * math.sqrt(a**3 / MU), rel=1e-14)


# ---------------------------------------------------------------- independent truth: SPICE


@pytest.mark.parametrize(
    ("e_lo", "e_hi"),
    [
        (0.0, 0.2),
        (0.2, 0.9),
        (0.99, 0.99),
        (0.999, 0.999),
        (0.999999, 0.999999),
        (1.0, 1.0),
        (1.000001, 1.000001),
        (1.001, 1.1),
        (1.1, 3.0),
    ],
)
def test_agrees_with_spice_prop2b_over_10000_days(e_lo, e_hi):
    """< 1 m from prop2b over +-10,000 days.

    Start within |M| <= 1 rad of perihelion with q in [0.5, 5] AU: far-out hyperbolic states that
    swing past the Sun at q ~ 0.1 AU put prop2b itself metres off (checked against an 80-bit
    reference while writing this kernel, which stayed within 0.3 m there).
    """
    rng = np.random.default_rng(int(1e6 * e_lo) % 9973)
    states = conic_states(rng, 100, e_lo, e_hi)
    dt = np.concatenate([rng.uniform(-10_000, 10_000, 98), [10_000.0, -10_000.0]])
    out = kepler_step(states, dt)
    truth = np.array([spiceypy.prop2b(MU, s, t) for s, t in zip(states, dt, strict=True)])
    assert np.abs(out[:, :3] - truth[:, :3]).max() < METRE_AU
    # velocity: 1 m over 10,000 days is ~1e-12 AU/day
    assert np.abs(out[:, 3:] - truth[:, 3:]).max() < 1e-12


def test_escape_speed_states_agree_with_spice():
    """States at escape speed to rounding: 1/a is +-1e-16 noise, e - 1 ~ 1e-16, either sign.

    This once put the hyperbolic bracket below the root (e - 1 recomputed as (1 - alpha q) - 1).
    """
    rng = np.random.default_rng(21)
    n = 20_000  # the old bug hit ~6 of these
    r = rng.normal(size=(n, 3)) * (10 ** rng.uniform(-1.5, 1.5, n))[:, None]
    v = rng.normal(size=(n, 3))
    speed = np.sqrt(2 * MU / np.linalg.norm(r, axis=1))
    v *= (speed / np.linalg.norm(v, axis=1))[:, None]
    states = np.hstack([r, v])
    dt = rng.choice([-1.0, 1.0], n) * 10 ** rng.uniform(-3, 4, n)
    out = kepler_step(states, dt)
    truth = np.array([spiceypy.prop2b(MU, s, t) for s, t in zip(states, dt, strict=True)])
    scale = np.maximum(np.linalg.norm(truth[:, :3], axis=1), np.linalg.norm(r, axis=1))
    assert (np.abs(out[:, :3] - truth[:, :3]).max(axis=1) / scale).max() < 1e-11


def test_many_revolutions_reduce_to_the_start():
    """A whole number of periods (here 5,000 for a 0.2 AU circular orbit) returns the state."""
    a = 0.2
    v = math.sqrt(MU / a)
    state = np.array([[a, 0.0, 0.0, 0.0, v * 0.6, v * 0.8]])
    period = 2 * math.pi * math.sqrt(a**3 / MU)
    for revs in (1, 37, 5000):
        back = kepler_step(state, revs * period)
        assert np.abs(back - state).max() < 1e-12 * revs
        half = kepler_step(state, (revs + 0.5) * period)
        np.testing.assert_allclose(half[0, :3], -state[0, :3], atol=1e-12 * revs)


# ---------------------------------------------------------------- invariants, reversibility


@pytest.mark.parametrize(
    ("e_lo", "e_hi"),
    [(0.0, 0.5), (0.9, 0.999), (0.999999, 1.000001), (1.01, 5.0)],
    ids=["low-e", "high-e", "near-parabolic", "hyperbolic"],
)
def test_energy_angular_momentum_and_reversibility(e_lo, e_hi):
    rng = np.random.default_rng(7)
    states = conic_states(rng, 50, e_lo, e_hi, m_max=2.0)
    dt = rng.uniform(-10_000, 10_000, len(states))
    out = kepler_step(states, dt)

    def energy_and_h(s):
        r = np.linalg.norm(s[:, :3], axis=1)
        return 0.5 * (s[:, 3:] ** 2).sum(axis=1) - MU / r, np.cross(s[:, :3], s[:, 3:])

    e0, h0 = energy_and_h(states)
    e1, h1 = energy_and_h(out)
    # Energy relative to its kinetic scale (it is ~0 for near-parabolic orbits).
    scale = np.maximum(0.5 * (states[:, 3:] ** 2).sum(axis=1), np.abs(e0))
    assert (np.abs(e1 - e0) / scale).max() < 1e-12
    assert (np.linalg.norm(h1 - h0, axis=1) / np.linalg.norm(h0, axis=1)).max() < 1e-12

    # Forward then back returns the start to within 1e-12 of the larger radius (speed), plus the
    # problem's own float64 conditioning: a fast hyperbolic swing past the Sun turns the 1-ulp
    # rounding of the far state into ~1e-11 at the start (prop2b does the same). That part is
    # measured by re-propagating the far state nudged by one ulp.
    back = kepler_step(out, -dt)
    nudged = out * (1 + rng.choice([-1.0, 1.0], out.shape) * np.finfo(float).eps)
    conditioning = np.abs(kepler_step(nudged, -dt) - back)
    for cols in (slice(0, 3), slice(3, 6)):
        scale = np.maximum(
            np.linalg.norm(states[:, cols], axis=1), np.linalg.norm(out[:, cols], axis=1)
        )
        error = np.abs(back[:, cols] - states[:, cols]).max(axis=1)
        assert (error <= 1e-12 * scale + 4 * conditioning[:, cols].max(axis=1)).all()


# ---------------------------------------------------------------- edge cases


def test_zero_dt_returns_input_exactly():
    rng = np.random.default_rng(3)
    states = np.vstack([conic_states(rng, 4, 0.0, 0.9), conic_states(rng, 2, 1.5, 2.0)])
    out = np.empty_like(states)
    propagate_pairs(states, np.zeros(len(states)), MU, out)
    np.testing.assert_array_equal(out, states)
    np.testing.assert_array_equal(kepler_step(states, 0.0), states)
    grid = propagate_2body(states, 60000.0, [60000.0])
    np.testing.assert_array_equal(grid[:, 0], states)


def test_nan_and_inf_propagate_to_nan_in_kernels():
    """Kernels turn a non-finite state, dt or mu into a NaN row and leave other rows alone."""
    good = np.array([1.0, 0.2, 0.1, -0.002, 0.016, 0.001])
    states = np.array([good, good, good, good, good])
    states[1, 2] = np.nan
    states[2, 4] = np.inf
    dt = np.array([10.0, 10.0, 10.0, np.nan, -np.inf])
    out = np.empty_like(states)
    propagate_pairs(states, dt, MU, out)
    assert np.isfinite(out[0]).all()
    assert np.isnan(out[1:]).all()
    propagate_pairs(states[:1], dt[:1], np.nan, out[:1])
    assert np.isnan(out[0]).all()


def test_public_functions_validate_inputs():
    state = np.array([1.0, 0.2, 0.1, -0.002, 0.016, 0.001])
    assert kepler_step(state, 5.0).shape == (1, 6)
    assert propagate_2body(state, 60000.0, [60001.0, 60002.0]).shape == (1, 2, 6)
    with pytest.raises(ValueError, match=r"shape \(n, 6\)"):
        kepler_step(np.zeros((3, 5)), 1.0)
    with pytest.raises(ValueError, match=r"NaN or infinite.*row"):
        kepler_step(np.array([state, state * np.nan]), 1.0)
    with pytest.raises(ValueError, match="length 2"):
        kepler_step(np.array([state, state]), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="dt_days has NaN"):
        kepler_step(state, np.nan)
    with pytest.raises(ValueError, match="mu must be a finite, positive"):
        kepler_step(state, 1.0, mu=-1.0)
    with pytest.raises(ValueError, match="mjd_tdb must be"):
        propagate_2body(state, 60000.0, np.zeros((2, 2)))
