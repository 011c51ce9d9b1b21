"""Element conversions, frames and origins: kernels vs slow references, SPICE, round trips."""

import math
import re
import zlib

import numpy as np
import pandas as pd
import pytest
import spiceypy
from references import bisect_increasing, furnish_de440

from ephemerides._elements_kernels import (
    cometary_to_states,
    keplerian_to_states,
    states_to_cometary,
    states_to_keplerian,
)
from ephemerides.constants import (
    AU_KM,
    EQUATORIAL_TO_ECLIPTIC,
    GM_SOLAR_SYSTEM_AU3_PER_DAY2,
    GM_SUN_AU3_PER_DAY2,
    MJD_J2000,
    SECONDS_PER_DAY,
)
from ephemerides.elements import (
    barycentric_to_heliocentric,
    cartesian_to_cometary,
    cartesian_to_keplerian,
    cometary_to_cartesian,
    ecliptic_to_equatorial,
    equatorial_to_ecliptic,
    heliocentric_to_barycentric,
    keplerian_to_cartesian,
    orbits_to_states,
)
from ephemerides.spk import default_planetary_kernel

MU = GM_SUN_AU3_PER_DAY2
METRE_AU = 1e-3 / AU_KM
EPOCH = 60_000.0

# ---------------------------------------------------------------- slow, obvious references


def _rotation(inc, node, argperi):
    """Perifocal -> reference frame: Rz(node) Rx(inc) Rz(argperi)."""

    def rz(t):
        return np.array([[math.cos(t), -math.sin(t), 0], [math.sin(t), math.cos(t), 0], [0, 0, 1]])

    c, s = math.cos(inc), math.sin(inc)
    rx = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    return rz(node) @ rx @ rz(argperi)


def reference_keplerian_to_state(a, e, inc, node, argperi, m, mu):
    """Textbook: Kepler's equation by bisection, perifocal position and velocity, rotation."""
    if e < 1:
        m = m - 2 * math.pi * round(m / (2 * math.pi))
        ea = bisect_increasing(lambda E: E - e * math.sin(E) - m, m - 1.0, m + 1.0)
        b = a * math.sqrt(1 - e * e)
        r = a * (1 - e * math.cos(ea))
        edot = math.sqrt(mu / a) / r
        pos = [a * (math.cos(ea) - e), b * math.sin(ea), 0.0]
        vel = [-a * math.sin(ea) * edot, b * math.cos(ea) * edot, 0.0]
    else:
        limit = math.asinh(abs(m) / (e - 1)) + 1.0
        fa = bisect_increasing(lambda F: e * math.sinh(F) - F - m, -limit, limit)
        b = -a * math.sqrt(e * e - 1)
        r = a * (1 - e * math.cosh(fa))
        fdot = math.sqrt(mu / -a) / r
        pos = [a * (math.cosh(fa) - e), b * math.sinh(fa), 0.0]
        vel = [a * math.sinh(fa) * fdot, b * math.cosh(fa) * fdot, 0.0]
    rot = _rotation(inc, node, argperi)
    return np.concatenate([rot @ pos, rot @ vel])


def reference_cometary_to_state(q, e, inc, node, argperi, tp, epoch, mu):
    """Mean anomaly n (t - tp) for ellipses and hyperbolas; Barker's equation for parabolas."""
    dt = epoch - tp
    if e != 1:
        a = q / (1 - e)
        m = math.sqrt(mu / abs(a) ** 3) * dt
        return reference_keplerian_to_state(a, e, inc, node, argperi, m, mu)
    # Barker: D + D^3/3 = sqrt(mu / (2 q^3)) dt with D = tan(nu/2), solved by Cardano.
    b = math.sqrt(mu / (2 * q**3)) * dt
    y = np.cbrt(1.5 * b + math.sqrt(2.25 * b * b + 1))
    nu = 2 * math.atan(y - 1 / y)
    r = 2 * q / (1 + math.cos(nu))
    speed = math.sqrt(mu / (2 * q))
    rot = _rotation(inc, node, argperi)
    pos = [r * math.cos(nu), r * math.sin(nu), 0.0]
    vel = [-speed * math.sin(nu), speed * (1 + math.cos(nu)), 0.0]
    return np.concatenate([rot @ pos, rot @ vel])


def reference_state_to_keplerian(state, mu):
    """Textbook vector formulas (node vector, eccentricity vector, arccos with quadrant checks)."""
    r, v = np.asarray(state[:3]), np.asarray(state[3:])
    rn, vn = np.linalg.norm(r), np.linalg.norm(v)
    h = np.cross(r, v)
    n = np.cross([0.0, 0.0, 1.0], h)
    evec = ((vn**2 - mu / rn) * r - (r @ v) * v) / mu
    e = np.linalg.norm(evec)
    a = -mu / (2 * (vn**2 / 2 - mu / rn))
    inc = math.acos(h[2] / np.linalg.norm(h))
    node = math.acos(n[0] / np.linalg.norm(n))
    if n[1] < 0:
        node = 2 * math.pi - node
    argperi = math.acos(np.clip(n @ evec / (np.linalg.norm(n) * e), -1, 1))
    if evec[2] < 0:
        argperi = 2 * math.pi - argperi
    nu = math.acos(np.clip(evec @ r / (e * rn), -1, 1))
    if r @ v < 0:
        nu = -nu
    if e < 1:
        ea = 2 * math.atan(math.sqrt((1 - e) / (1 + e)) * math.tan(nu / 2))
        m = ea - e * math.sin(ea)
    else:
        fa = 2 * math.atanh(math.sqrt((e - 1) / (e + 1)) * math.tan(nu / 2))
        m = e * math.sinh(fa) - fa
    return np.array([a, e, inc, node, argperi, m])


# ---------------------------------------------------------------- helpers


def random_angles(rng, n, inc_lo=5.0, inc_hi=175.0):
    """inc, node, argperi in degrees."""
    return rng.uniform(inc_lo, inc_hi, n), rng.uniform(0, 360, n), rng.uniform(0, 360, n)


def angle_diff_deg(a, b):
    return np.abs((np.asarray(a) - np.asarray(b) + 180.0) % 360.0 - 180.0)


def assert_states_close(got, want, rtol, atol_pos=0.0):
    """Positions to rtol |r| (+ atol_pos), velocities to rtol |v|."""
    pos = np.abs(got[:, :3] - want[:, :3]).max(axis=1)
    vel = np.abs(got[:, 3:] - want[:, 3:]).max(axis=1)
    assert (pos <= rtol * np.linalg.norm(want[:, :3], axis=1) + atol_pos).all(), pos.max()
    assert (vel <= rtol * np.linalg.norm(want[:, 3:], axis=1)).all(), vel.max()


# Test orbit families: (q range AU, e values or range, inclination range deg).
FAMILIES = {
    "elliptic": ((0.3, 5.0), (0.05, 0.95), (0.0, 180.0)),
    "near-circular": ((0.5, 5.0), (1e-10, 1e-10), (0.0, 180.0)),
    "circular": ((0.5, 5.0), (0.0, 0.0), (0.0, 180.0)),
    "near-equatorial": ((0.5, 5.0), (0.1, 0.5), (1e-9, 1e-9)),
    "equatorial": ((0.5, 5.0), (0.1, 0.5), (0.0, 0.0)),
    "retrograde-equatorial": ((0.5, 5.0), (0.1, 0.5), (180.0, 180.0)),
    "retrograde": ((0.5, 5.0), (0.1, 0.9), (90.0, 180.0)),
    "high-e": ((0.1, 3.0), (0.99, 0.999), (0.0, 180.0)),
    "near-parabolic-elliptic": ((0.1, 3.0), (0.999999, 0.999999), (0.0, 180.0)),
    "parabolic": ((0.1, 3.0), (1.0, 1.0), (0.0, 180.0)),
    "near-parabolic-hyperbolic": ((0.1, 3.0), (1.000001, 1.000001), (0.0, 180.0)),
    "hyperbolic": ((0.1, 5.0), (1.05, 5.0), (0.0, 180.0)),
}


def family_cometary(name, n=40, seed=0):
    """Random cometary elements (degrees) of a family, tp within +-500 days of EPOCH."""
    rng = np.random.default_rng(zlib.crc32(name.encode()) + seed)
    (q_lo, q_hi), (e_lo, e_hi), (i_lo, i_hi) = FAMILIES[name]
    q = rng.uniform(q_lo, q_hi, n)
    e = rng.uniform(e_lo, e_hi, n)
    inc, node, argperi = random_angles(rng, n, i_lo, i_hi)
    tp = EPOCH + rng.uniform(-500, 500, n)
    return q, e, inc, node, argperi, tp


# ---------------------------------------------------------------- kernels vs references


@pytest.mark.parametrize("name", ["elliptic", "retrograde", "high-e", "hyperbolic"])
def test_keplerian_kernel_matches_reference(name):
    q, e, inc, node, argperi, _ = family_cometary(name, n=30)
    a = q / (1 - e)
    m = np.random.default_rng(1).uniform(-3, 3, len(q))
    elements = np.column_stack([a, e, np.deg2rad(inc), np.deg2rad(node), np.deg2rad(argperi), m])
    out = np.empty((len(q), 6))
    keplerian_to_states(elements, MU, out)
    ref = np.array([reference_keplerian_to_state(*row, MU) for row in elements])
    # The textbook E - e sin E loses ~log10(1/(1 - e)) digits at e = 0.999.
    assert_states_close(out, ref, rtol=1e-12 if name != "high-e" else 1e-10)


@pytest.mark.parametrize("name", ["elliptic", "high-e", "parabolic", "hyperbolic"])
def test_cometary_kernel_matches_reference(name):
    q, e, inc, node, argperi, tp = family_cometary(name, n=30)
    elements = np.column_stack([q, e, np.deg2rad(inc), np.deg2rad(node), np.deg2rad(argperi), tp])
    epochs = np.full(len(q), EPOCH)
    out = np.empty((len(q), 6))
    cometary_to_states(elements, epochs, MU, out)
    ref = np.array([reference_cometary_to_state(*row, EPOCH, MU) for row in elements])
    assert_states_close(out, ref, rtol=1e-12 if name != "high-e" else 1e-10)


@pytest.mark.parametrize("name", ["elliptic", "retrograde", "hyperbolic"])
def test_states_to_keplerian_and_cometary_kernels_match_reference(name):
    q, e, inc, node, argperi, tp = family_cometary(name, n=30)
    elements = np.column_stack([q, e, np.deg2rad(inc), np.deg2rad(node), np.deg2rad(argperi), tp])
    epochs = np.full(len(q), EPOCH)
    states = np.empty((len(q), 6))
    cometary_to_states(elements, epochs, MU, states)
    kep = np.empty_like(states)
    states_to_keplerian(states, MU, kep)
    com = np.empty_like(states)
    states_to_cometary(states, epochs, MU, com)
    ref = np.array([reference_state_to_keplerian(s, MU) for s in states])
    a_ref, e_ref, m_ref = ref[:, 0], ref[:, 1], ref[:, 5]
    np.testing.assert_allclose(kep[:, 0], a_ref, rtol=1e-12)
    np.testing.assert_allclose(kep[:, 1], e_ref, rtol=1e-13, atol=1e-13)
    for col in (2, 3, 4):
        assert angle_diff_deg(np.rad2deg(kep[:, col]), np.rad2deg(ref[:, col])).max() < 1e-9
    if name != "hyperbolic":
        m_ref = (m_ref + np.pi) % (2 * np.pi) - np.pi  # ours is signed, in [-pi, pi]
    # Far out on a hyperbola the reference's arccos-based true anomaly loses digits (up to
    # ~3e-11 of M here); ours stays within 4e-13 of an 80-bit evaluation of e sinh F - F.
    rtol = 1e-10 if name == "hyperbolic" else 1e-12
    np.testing.assert_allclose(kep[:, 5], m_ref, rtol=rtol, atol=1e-12)
    # Cometary: the same angles, q = a (1 - e), tp = epoch - M / n.
    np.testing.assert_array_equal(com[:, 1:5], kep[:, 1:5])
    np.testing.assert_allclose(com[:, 0], a_ref * (1 - e_ref), rtol=1e-12)
    n = np.sqrt(MU / np.abs(a_ref) ** 3)
    since_perihelion = m_ref / n
    atol = 1e-9 + rtol * np.abs(since_perihelion).max()
    np.testing.assert_allclose(com[:, 5], EPOCH - since_perihelion, rtol=0, atol=atol)


def test_kernels_turn_non_finite_input_into_nan_rows():
    good = np.array([0.4, 1.2, 0.3, -0.015, 0.004, 0.001])
    states = np.array([good, good, good])
    states[1, 0] = np.nan
    states[2, 5] = np.inf
    out = np.empty_like(states)
    states_to_keplerian(states, MU, out)
    assert np.isfinite(out[0]).all() and np.isnan(out[1:]).all()
    states_to_cometary(states, np.full(3, EPOCH), MU, out)
    assert np.isfinite(out[0]).all() and np.isnan(out[1:]).all()
    elements = np.array([[1.5, 0.2, 0.1, 0.2, 0.3, 0.4]] * 3)
    elements[1, 1] = np.nan
    elements[2, 3] = np.inf
    keplerian_to_states(elements, MU, out)
    assert np.isfinite(out[0]).all() and np.isnan(out[1:]).all()
    cometary_to_states(elements, np.array([EPOCH, EPOCH, np.nan]), MU, out)
    assert np.isfinite(out[0]).all() and np.isnan(out[1:]).all()


def test_parabola_has_no_keplerian_form():
    # mu = 2, q = 1: the perihelion speed is 2 and p = h^2/mu = 2 exactly, so e = 1 exactly.
    out = np.empty((1, 6))
    states_to_keplerian(np.array([[1.0, 0.0, 0.0, 0.0, 2.0, 0.0]]), 2.0, out)
    assert out[0, 0] == np.inf and out[0, 1] == 1.0 and np.isnan(out[0, 5])
    keplerian_to_states(np.array([[np.inf, 1.0, 0.1, 0.2, 0.3, 0.0]]), 2.0, out)
    assert np.isnan(out).all()


# ---------------------------------------------------------------- round trips


def _tp_floor(states):
    """Absolute position floor of a cometary round trip: speed x resolution of tp near MJD 6e4."""
    return np.linalg.norm(states[:, 3:], axis=1) * np.spacing(EPOCH + 1000.0)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_cartesian_elements_cartesian_round_trips(name):
    q, e, inc, node, argperi, tp = family_cometary(name)
    states = cometary_to_cartesian(q, e, inc, node, argperi, tp, EPOCH)
    com = cartesian_to_cometary(states, EPOCH)
    again = cometary_to_cartesian(*com.T, EPOCH)
    assert_states_close(again, states, rtol=1e-12, atol_pos=4 * _tp_floor(states))
    if name != "parabolic":
        kep = cartesian_to_keplerian(states)
        assert_states_close(keplerian_to_cartesian(*kep.T), states, rtol=1e-12)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_elements_cartesian_elements_round_trips(name):
    q, e, inc, node, argperi, tp = family_cometary(name)
    com = cartesian_to_cometary(cometary_to_cartesian(q, e, inc, node, argperi, tp, EPOCH), EPOCH)
    np.testing.assert_allclose(com[:, 0], q, rtol=1e-12)
    np.testing.assert_allclose(com[:, 1], e, rtol=0, atol=1e-12)
    assert angle_diff_deg(com[:, 2], inc).max() < 1e-10
    equatorial = name in ("equatorial", "near-equatorial", "retrograde-equatorial")
    circular = name in ("circular", "near-circular")
    if not equatorial:
        assert angle_diff_deg(com[:, 3], node).max() < 1e-9
    if not (equatorial or circular):
        assert angle_diff_deg(com[:, 4], argperi).max() < 1e-9
    elliptic = e < 1
    shift = com[:, 5] - tp
    if elliptic.all():
        # The perihelion passage nearest the epoch comes back: a whole number of periods away.
        period = 2 * np.pi * np.sqrt((q / (1 - e)) ** 3 / MU)
        shift -= period * np.round(shift / period)
    if not circular:
        assert np.abs(shift).max() < 1e-7

    if name == "parabolic":
        return
    a = q / (1 - e)
    m = np.rad2deg(np.sqrt(MU / np.abs(a) ** 3) * (EPOCH - tp))
    kep = cartesian_to_keplerian(keplerian_to_cartesian(a, e, inc, node, argperi, m))
    # a = q / (1 - e) inherits the float64 rounding of e (a few 1e-16) divided by 1 - e.
    assert (np.abs(kep[:, 0] - a) <= np.abs(a) * (1e-12 + 1e-14 / np.abs(1 - e))).all()
    if name == "retrograde-equatorial":
        # The perihelion direction is at longitude node - argperi; node is set to 0.
        assert angle_diff_deg(kep[:, 3] - kep[:, 4], node - argperi).max() < 1e-9
    elif equatorial:
        assert angle_diff_deg(kep[:, 3] + kep[:, 4], node + argperi).max() < 1e-9
    elif circular:
        # argperi + M (the mean argument of latitude) is defined to O(e) only.
        assert angle_diff_deg(kep[:, 4] + kep[:, 5], argperi + m).max() < 1e-7
    if not circular:
        assert angle_diff_deg(kep[:, 5], m).max() < 1e-8


def test_conventions_for_undefined_angles():
    # Equatorial orbit: node = 0 and the perihelion longitude goes to argperi.
    kep = cartesian_to_keplerian(keplerian_to_cartesian(2.0, 0.3, 0.0, 40.0, 30.0, 10.0))
    assert kep[0, 2] == 0.0 and kep[0, 3] == 0.0
    assert kep[0, 4] == pytest.approx(70.0, abs=1e-10)
    # Retrograde equatorial: node = 0, argperi counts from +x against the direction of motion.
    kep = cartesian_to_keplerian(keplerian_to_cartesian(2.0, 0.3, 180.0, 40.0, 30.0, 10.0))
    assert kep[0, 2] == 180.0 and kep[0, 3] == 0.0
    assert kep[0, 4] == pytest.approx(350.0, abs=1e-10)
    # Exactly circular (mu = 1, r = 1, v = 1 gives e = 0 exactly): argperi = 0 and M is the
    # argument of latitude, counted from the node (here the +y axis) towards the motion.
    state = [0.0, 0.6, 0.8, 0.0, -0.8, 0.6]
    kep = cartesian_to_keplerian(state, mu=1.0)
    assert kep[0, 1] == 0.0 and kep[0, 4] == 0.0
    assert kep[0, 3] == 90.0 and kep[0, 5] == pytest.approx(math.degrees(math.atan2(0.8, 0.6)))


def test_mean_anomaly_is_signed_from_nearest_perihelion():
    states = keplerian_to_cartesian(2.0, 0.4, 10.0, 20.0, 30.0, [350.0, 10.0, 180.0 - 1e-9])
    kep = cartesian_to_keplerian(states)
    np.testing.assert_allclose(kep[:, 5], [-10.0, 10.0, 180.0 - 1e-9], atol=1e-10)


# ---------------------------------------------------------------- independent truth: SPICE


def _spice_conics(rp, e, inc, node, argperi, m0, t0, epoch, mu=MU):
    elts = [rp, e, math.radians(inc), math.radians(node), math.radians(argperi), m0, t0, mu]
    return spiceypy.conics(elts, epoch)


@pytest.mark.parametrize(
    "name",
    [
        "elliptic",
        "retrograde",
        "high-e",
        "near-parabolic-elliptic",
        "parabolic",
        "near-parabolic-hyperbolic",
        "hyperbolic",
    ],
)
def test_elements_to_states_agree_with_spice_conics(name):
    """SPICE's elements are rp, e, i, node, argp, M0 at t0: cometary maps to M0 = 0 at t0 = tp;
    Keplerian to rp = a (1 - e), M0 = M at t0 = epoch. Times and GM in days, AU, AU^3/day^2."""
    q, e, inc, node, argperi, tp = family_cometary(name, n=30, seed=5)
    ours = cometary_to_cartesian(q, e, inc, node, argperi, tp, EPOCH)
    spice = np.array(
        [
            _spice_conics(*row[:5], 0.0, row[5], EPOCH)
            for row in zip(q, e, inc, node, argperi, tp, strict=True)
        ]
    )
    assert np.abs(ours[:, :3] - spice[:, :3]).max() < METRE_AU
    assert_states_close(ours, spice, rtol=1e-12)
    if name != "parabolic":
        a = q / (1 - e)
        m = np.sqrt(MU / np.abs(a) ** 3) * (EPOCH - tp)
        ours = keplerian_to_cartesian(a, e, inc, node, argperi, np.rad2deg(m))
        rows = zip(a * (1 - e), e, inc, node, argperi, m, strict=True)
        spice = np.array([_spice_conics(*row, EPOCH, EPOCH) for row in rows])
        assert np.abs(ours[:, :3] - spice[:, :3]).max() < METRE_AU


@pytest.mark.parametrize(
    "name",
    [
        "elliptic",
        "retrograde",
        "high-e",
        "near-parabolic-elliptic",
        "near-parabolic-hyperbolic",
        "hyperbolic",
    ],
)
def test_states_to_elements_agree_with_spice_oscelt(name):
    q, e, inc, node, argperi, tp = family_cometary(name, n=30, seed=9)
    states = cometary_to_cartesian(q, e, inc, node, argperi, tp, EPOCH)
    com = cartesian_to_cometary(states, EPOCH)
    kep = cartesian_to_keplerian(states)
    osc = np.array([spiceypy.oscelt(s, EPOCH, MU) for s in states])
    np.testing.assert_allclose(com[:, 0], osc[:, 0], rtol=1e-12)
    np.testing.assert_allclose(com[:, 1], osc[:, 1], rtol=0, atol=1e-12)
    for col in (2, 3, 4):
        assert angle_diff_deg(com[:, col], np.rad2deg(osc[:, col])).max() < 1e-9
    if name in ("elliptic", "retrograde", "hyperbolic"):
        # oscelt's M0 loses digits near e = 1 (its n differs by 1e-9 at e = 0.999999), and far
        # out on hyperbolas (up to 1e-9 relative, where ours stays within 4e-13 of an 80-bit
        # evaluation of e sinh F - F).
        m_spice = np.rad2deg(osc[:, 5])
        assert (angle_diff_deg(kep[:, 5], m_spice) <= 1e-9 + 1e-10 * np.abs(m_spice)).all()
    # Our elements, propagated by SPICE's conics, land on the original states.
    spice = np.array([_spice_conics(*row[:5], 0.0, row[5], EPOCH) for row in com])
    assert np.abs(spice[:, :3] - states[:, :3]).max() < METRE_AU


# ---------------------------------------------------------------- frames and origins


def test_ecliptic_equatorial_rotation_matches_spice():
    spice = spiceypy.pxform("ECLIPJ2000", "J2000", 0.0)
    rng = np.random.default_rng(4)
    states = rng.normal(size=(5, 6))
    eq = ecliptic_to_equatorial(states)
    np.testing.assert_allclose(eq[:, :3], states[:, :3] @ spice.T, rtol=0, atol=1e-15)
    np.testing.assert_allclose(eq[:, 3:], states[:, 3:] @ spice.T, rtol=0, atol=1e-15)
    np.testing.assert_allclose(equatorial_to_ecliptic(eq), states, atol=1e-15)
    assert ecliptic_to_equatorial(states[0, :3]).shape == (3,)
    assert ecliptic_to_equatorial(states[:, :3]).shape == (5, 3)
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        ecliptic_to_equatorial(np.zeros((2, 4)))


@pytest.mark.parametrize("frame", ["ecliptic", "equatorial"])
def test_heliocentric_barycentric_shift_by_the_sun(frame):
    times = np.array([59000.0, 60000.5, 60000.5, 61234.25])
    helio = np.random.default_rng(5).normal(size=(4, 6))
    bary = heliocentric_to_barycentric(helio, times, frame=frame)
    furnish_de440()
    for k, t in enumerate(times):
        sun = np.asarray(spiceypy.spkgeo(10, (t - MJD_J2000) * SECONDS_PER_DAY, "J2000", 0)[0])
        sun[:3] /= AU_KM
        sun[3:] *= SECONDS_PER_DAY / AU_KM
        if frame == "ecliptic":
            sun = (EQUATORIAL_TO_ECLIPTIC @ sun.reshape(2, 3).T).T.ravel()
        # bary - helio cancels down to the Sun's small offset: allow rounding of |helio|.
        np.testing.assert_allclose(bary[k] - helio[k], sun, rtol=0, atol=1e-15)
    np.testing.assert_allclose(
        barycentric_to_heliocentric(bary, times, frame=frame), helio, atol=1e-15
    )
    with pytest.raises(ValueError, match="frame must be one of"):
        heliocentric_to_barycentric(helio, times, frame="galactic")


def test_solar_system_gm_is_the_sum_sorcha_uses():
    """Recompute Sun + planets + Moon + Pluto + 16 sb441-n16 asteroids from de440.bsp's comments."""
    handle = spiceypy.dafopr(default_planetary_kernel())
    try:
        _, lines, _ = spiceypy.dafec(handle, 5000, 200)
    finally:
        spiceypy.dafcls(handle)
    gm = {}
    for line in lines:
        match = re.match(r"\s+(GM[0-9SBM]|MA\d{4})\s+([-+0-9.eE]+)\s", line)
        if match:
            gm[match.group(1)] = float(match.group(2))
    bodies = ["GMS", "GM1", "GM2", "GMB", "GM4", "GM5", "GM6", "GM7", "GM8", "GM9"]
    asteroids = [1, 2, 3, 4, 7, 10, 15, 16, 31, 52, 65, 87, 88, 107, 511, 704]
    total = math.fsum([gm[b] for b in bodies] + [gm[f"MA{k:04d}"] for k in asteroids])
    assert total == pytest.approx(GM_SOLAR_SYSTEM_AU3_PER_DAY2, rel=1e-15)
    assert gm["GMS"] == pytest.approx(GM_SUN_AU3_PER_DAY2, rel=1e-15)


# ---------------------------------------------------------------- orbit tables


def _table(fmt, columns, values, epoch):
    table = pd.DataFrame(dict(zip(columns, values, strict=True)))
    table.insert(0, "format", fmt)
    table.insert(0, "ssObjectId", np.arange(len(table), dtype=np.int64))
    table.insert(0, "object_id", [f"obj{k}" for k in range(len(table))])
    table["epoch_mjd_tdb"] = epoch
    table["H"] = 15.0
    table["G"] = 0.15
    return table


def test_orbits_to_states_all_formats():
    q = np.array([1.2, 2.5, 0.4])
    e = np.array([0.3, 0.05, 1.3])
    inc, node, argperi = (
        np.array([12.0, 3.0, 150.0]),
        np.array([80.0, 200.0, 5.0]),
        np.array([40.0, 300.0, 100.0]),
    )
    tp = np.array([59950.0, 60100.0, 60020.0])
    epoch = np.full(3, EPOCH)
    a = q / (1 - e)
    m = np.rad2deg(np.sqrt(MU / np.abs(a) ** 3) * (epoch - tp))
    com_cols = ("q_au", "e", "inc_deg", "node_deg", "argperi_deg", "tp_mjd_tdb")
    kep_cols = ("a_au", "e", "inc_deg", "node_deg", "argperi_deg", "mean_anomaly_deg")
    cart_cols = ("x_au", "y_au", "z_au", "vx_au_per_day", "vy_au_per_day", "vz_au_per_day")
    helio = cometary_to_cartesian(q, e, inc, node, argperi, tp, epoch)

    com_states, epochs = orbits_to_states(
        _table("COM", com_cols, (q, e, inc, node, argperi, tp), epoch)
    )
    np.testing.assert_array_equal(com_states, helio)
    np.testing.assert_array_equal(epochs, epoch)
    kep_states, _ = orbits_to_states(_table("KEP", kep_cols, (a, e, inc, node, argperi, m), epoch))
    assert_states_close(kep_states, helio, rtol=1e-11)
    cart = _table("CART", cart_cols, helio.T, epoch)
    np.testing.assert_array_equal(orbits_to_states(cart)[0], helio)

    bary, _ = orbits_to_states(cart, origin="ssb")
    np.testing.assert_allclose(bary, heliocentric_to_barycentric(helio, epoch), atol=1e-16)
    eq, _ = orbits_to_states(cart, frame="equatorial", origin="ssb")
    np.testing.assert_allclose(eq, ecliptic_to_equatorial(bary), atol=1e-16)

    # Barycentric formats: elements about GM of the whole Solar System, state at the SSB.
    bcom = _table("BCOM", com_cols, (q, e, inc, node, argperi, tp), epoch)
    want = cometary_to_cartesian(
        q, e, inc, node, argperi, tp, epoch, mu=GM_SOLAR_SYSTEM_AU3_PER_DAY2
    )
    np.testing.assert_array_equal(orbits_to_states(bcom, origin="ssb")[0], want)
    np.testing.assert_allclose(
        orbits_to_states(bcom)[0], barycentric_to_heliocentric(want, epoch), atol=1e-16
    )
    bkep = _table("BKEP", kep_cols, (a, e, inc, node, argperi, m), epoch)
    want = keplerian_to_cartesian(a, e, inc, node, argperi, m, mu=GM_SOLAR_SYSTEM_AU3_PER_DAY2)
    np.testing.assert_array_equal(orbits_to_states(bkep, origin="ssb")[0], want)
    bcart = _table("BCART", cart_cols, bary.T, epoch)
    np.testing.assert_allclose(orbits_to_states(bcart)[0], helio, atol=1e-15)

    empty_states, empty_epochs = orbits_to_states(cart.iloc[:0])
    assert empty_states.shape == (0, 6) and empty_epochs.shape == (0,)


def test_orbits_to_states_rejects_bad_tables():
    cols = ("q_au", "e", "inc_deg", "node_deg", "argperi_deg", "tp_mjd_tdb")
    table = _table(
        "COM",
        cols,
        ([1.0, 2.0], [0.1, 0.2], [1.0, 2.0], [0.0, 0.0], [0.0, 0.0], [EPOCH, EPOCH]),
        EPOCH,
    )
    mixed = table.copy()
    mixed.loc[1, "format"] = "KEP"
    with pytest.raises(ValueError, match="mixes formats"):
        orbits_to_states(mixed)
    with pytest.raises(ValueError, match="unknown orbit format 'ELEM'"):
        orbits_to_states(table.assign(format="ELEM"))
    with pytest.raises(ValueError, match="lack the column"):
        orbits_to_states(table.drop(columns="tp_mjd_tdb"))
    with pytest.raises(ValueError, match="no 'format' column"):
        orbits_to_states(table.drop(columns="format"))
    with pytest.raises(ValueError, match="origin must be one of"):
        orbits_to_states(table, origin="earth")


# ---------------------------------------------------------------- input validation


def test_public_conversions_validate_inputs():
    with pytest.raises(ValueError, match="parabola"):
        keplerian_to_cartesian(1.0, 1.0, 10.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="a_au must be > 0 for ellipses"):
        keplerian_to_cartesian(-1.0, 0.5, 10.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="< 0 for hyperbolas"):
        keplerian_to_cartesian(1.0, 1.5, 10.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="e must be >= 0"):
        cometary_to_cartesian(1.0, -0.1, 10.0, 0.0, 0.0, EPOCH, EPOCH)
    with pytest.raises(ValueError, match=r"inc_deg must lie in \[0, 180\]"):
        cometary_to_cartesian(1.0, 0.1, 190.0, 0.0, 0.0, EPOCH, EPOCH)
    with pytest.raises(ValueError, match="q_au must be > 0"):
        cometary_to_cartesian(0.0, 0.1, 10.0, 0.0, 0.0, EPOCH, EPOCH)
    with pytest.raises(ValueError, match="NaN or infinite values in node_deg"):
        cometary_to_cartesian(1.0, 0.1, 10.0, np.nan, 0.0, EPOCH, EPOCH)
    with pytest.raises(ValueError, match="one common length"):
        cometary_to_cartesian([1.0, 2.0], [0.1, 0.2, 0.3], 10.0, 0.0, 0.0, EPOCH, EPOCH)
    with pytest.raises(ValueError, match="zero angular momentum"):
        cartesian_to_keplerian([1.0, 0.0, 0.0, 0.01, 0.0, 0.0])
    with pytest.raises(ValueError, match="NaN or infinite"):
        cartesian_to_cometary([1.0, 0.0, 0.0, 0.0, np.nan, 0.0], EPOCH)
    assert keplerian_to_cartesian(2.0, 0.1, 5.0, 6.0, 7.0, [1.0, 2.0]).shape == (2, 6)
