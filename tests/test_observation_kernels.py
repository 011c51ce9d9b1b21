"""The observation kernel against a slow, obvious reference (spiceypy.prop2b for the 2-body
motion over the light time, plain NumPy vector algebra for the rest)."""

import numpy as np
import pytest
import spiceypy

from ephemerides import _observation_kernels as k
from ephemerides.constants import C_AU_PER_DAY, GM_SUN_AU3_PER_DAY2
from ephemerides.elements import keplerian_to_cartesian

C = C_AU_PER_DAY
MU = GM_SUN_AU3_PER_DAY2


def _unit(v):
    return v / np.linalg.norm(v)


def _aberrated(direction, velocity):
    return _unit(_unit(direction) + velocity / C)


def _angle(u, v):
    return np.arctan2(np.linalg.norm(np.cross(u, v)), np.dot(u, v))


def reference_observe(helio, sun, obs):
    """One row at a time, light time iterated 20 times with spiceypy's 2-body propagator."""
    out = np.empty((helio.shape[0], k.N_COLUMNS))
    for i in range(helio.shape[0]):
        lt = 0.0
        for _ in range(20):
            emit = spiceypy.prop2b(MU, helio[i], -lt)
            rho = emit[:3] + sun[i, :3] - sun[i, 3:] * lt - obs[i, :3]
            lt = np.linalg.norm(rho) / C
        emit = spiceypy.prop2b(MU, helio[i], -lt)
        rho = emit[:3] + sun[i, :3] - sun[i, 3:] * lt - obs[i, :3]
        # Rate by a symmetric numerical derivative of the light-time solution (±1 minute).
        h = 1.0 / 1440.0
        dirs = []
        for sign in (-1.0, 1.0):
            moved = spiceypy.prop2b(MU, helio[i], sign * h)
            sun_h = sun[i, :3] + sun[i, 3:] * sign * h
            obs_h = obs[i, :3] + obs[i, 3:] * sign * h  # observer: straight line over 2 min
            lt_h = lt
            for _ in range(20):
                e = spiceypy.prop2b(MU, moved, -lt_h)
                r = e[:3] + sun_h - sun[i, 3:] * lt_h - obs_h
                lt_h = np.linalg.norm(r) / C
            dirs.append(_unit(r))
        u = _unit(rho)
        du = (dirs[1] - dirs[0]) / (2 * h)
        ra = np.arctan2(u[1], u[0]) % (2 * np.pi)
        dec = np.arcsin(u[2])
        east = np.array([-np.sin(ra), np.cos(ra), 0.0])
        north = np.array([-np.sin(dec) * np.cos(ra), -np.sin(dec) * np.sin(ra), np.cos(dec)])
        sun_to_obj = emit[:3] + sun[i, 3:] * np.linalg.norm(emit[:3]) / C
        obs_to_sun = sun[i, :3] - obs[i, :3]
        obs_to_sun = obs_to_sun - sun[i, 3:] * np.linalg.norm(obs_to_sun) / C
        obj_vel = emit[3:] + sun[i, 3:]
        apparent = _aberrated(rho, obs[i, 3:])
        out[i] = [
            ra,
            dec,
            east @ du,
            north @ du,
            np.linalg.norm(rho),
            np.linalg.norm(sun_to_obj),
            lt,
            _angle(_aberrated(-sun_to_obj, obj_vel), -apparent),
            _angle(_aberrated(obs_to_sun, obs[i, 3:]), apparent),
        ]
    return out


@pytest.fixture(scope="module")
def geometry():
    rng = np.random.default_rng(7)
    n = 40
    a = np.concatenate([rng.uniform(0.7, 3.5, n - 8), [40.0, 45.0, 5.2, 5.2, 1.1, 1.2, 0.9, 30.0]])
    helio = keplerian_to_cartesian(
        a, rng.uniform(0.0, 0.6, n), rng.uniform(0.0, 170.0, n), rng.uniform(0, 360, n),
        rng.uniform(0, 360, n), rng.uniform(0, 360, n),
    )
    # Observers near 1 AU moving ~30 km/s plus a rotation-sized jitter, the Sun near the SSB.
    lon = rng.uniform(0.0, 2 * np.pi, n)
    obs = np.column_stack([np.cos(lon), np.sin(lon), 0.02 * rng.standard_normal(n),
                           -0.0172 * np.sin(lon), 0.0172 * np.cos(lon), 1e-4 * np.ones(n)])
    sun = np.column_stack([rng.uniform(-0.01, 0.01, (n, 3)), rng.uniform(-8e-6, 8e-6, (n, 3))])
    obs[:, :3] += sun[:, :3]
    return np.ascontiguousarray(helio), np.ascontiguousarray(sun), np.ascontiguousarray(obs)


def _run(helio, sun, obs):
    out = np.empty((helio.shape[0], k.N_COLUMNS))
    k.observe(helio, sun, obs, MU, C, 1e-13, 10, out)
    return out


def test_kernel_matches_reference(geometry):
    got = _run(*geometry)
    want = reference_observe(*geometry)
    dist = want[:, k.TOPO_RANGE]
    # Positions and angles to 1e-11 rad (2 µas); distances to 1 mm; light time to 1 ns.
    for col in (k.DEC, k.PHASE, k.ELONGATION):
        assert np.abs(got[:, col] - want[:, col]).max() < 1e-11
    d_ra = (got[:, k.RA] - want[:, k.RA] + np.pi) % (2 * np.pi) - np.pi
    assert np.abs(d_ra * np.cos(want[:, k.DEC])).max() < 1e-11
    assert np.abs(got[:, k.TOPO_RANGE] - dist).max() < 7e-12
    assert np.abs(got[:, k.HELIO_RANGE] - want[:, k.HELIO_RANGE]).max() < 7e-12
    assert np.abs(got[:, k.LIGHT_TIME] - want[:, k.LIGHT_TIME]).max() < 1e-14
    # Rates: the reference differentiates numerically (straight-line observer over ±1 min),
    # good to ~1e-7 relative of the sky rate.
    rate = np.hypot(want[:, k.RA_RATE], want[:, k.DEC_RATE])
    for col in (k.RA_RATE, k.DEC_RATE):
        assert (np.abs(got[:, col] - want[:, col]) <= 1e-6 * rate + 1e-12).all()


def test_light_time_equation_holds(geometry):
    helio, sun, obs = geometry
    got = _run(helio, sun, obs)
    assert np.allclose(got[:, k.TOPO_RANGE], C * got[:, k.LIGHT_TIME], rtol=1e-14, atol=0)


def test_nan_row_gives_nan_and_leaves_others(geometry):
    helio, sun, obs = (a.copy() for a in geometry)
    helio[3, 0] = np.nan
    got = _run(helio, sun, obs)
    assert np.isnan(got[3]).all()
    assert np.isfinite(np.delete(got, 3, axis=0)).all()
