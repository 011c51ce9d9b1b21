"""N-body propagation: force and IAS15 kernels against slow references, and the driver against
JPL Horizons, round trips, exact stops, failures and coverage."""

import numpy as np
import pandas as pd
import pytest
import spiceypy

from ephemerides import kepler_step, nbody, spk
from ephemerides._force_kernels import accelerations
from ephemerides._ias15_kernels import ESCAPED, IMPACT, OK, STEP_COLLAPSED
from ephemerides._ias15_kernels import integrate as ias15_integrate
from ephemerides._spk_kernels import body_states
from ephemerides.constants import (
    AU_KM,
    C_AU_PER_DAY,
    ECLIPTIC_TO_EQUATORIAL,
    GM_SUN_AU3_PER_DAY2,
    MJD_J2000,
    SECONDS_PER_DAY,
)

STATE_COLUMNS = ["x_au", "y_au", "z_au", "vx_au_per_day", "vy_au_per_day", "vz_au_per_day"]
M_PER_AU = AU_KM * 1e3
EPOCH = 60_000.0  # MJD TDB, 2023-02-25

# Horizons position tolerance per object, metres, over ±30 days from one Horizons state
# (horizons_orbits.csv). Horizons integrates with DE441, the same 16 asteroids and GR; we use
# DE440. The residual is dominated by how well the two Horizons files agree with each other at
# the orbit epoch itself (horizons_orbits.csv vs the horizons_states.csv row at that instant:
# 0.1–0.9 m for most objects, 2.6 m for 911 and 56 m for 1172, evidently two orbit solutions),
# plus ~1–4 m along track for the Earth-approaching Atira/Aten/Apollo/Amor orbits.
DEFAULT_TOLERANCE_M = 10.0
TOLERANCE_M = {"1172": 70.0}
# Started instead from the horizons_states.csv row at the orbit epoch (one consistent source),
# every object stays within this.
CONSISTENT_TOLERANCE_M = 8.0


def _read_only(values, dtype=np.float64):
    array = np.array(values, dtype=dtype)
    array.flags.writeable = False  # as spk's arrays: the kernels compile once for both
    return array


def _sun_fixed_ephemeris():
    """An ephemeris with one body, the Sun, at rest at the origin (for Kepler references):
    one type 2 record with a single (zero) Chebyshev coefficient per coordinate."""
    return spk.SpkEphemeris(
        naif_ids=_read_only([10], np.int64),
        gm_au3_per_day2=_read_only([GM_SUN_AU3_PER_DAY2]),
        data=_read_only([0.0, 1e12, 0.0, 0.0, 0.0]),
        segments=_read_only([[0, 1, 1, 5, 10, 0]], np.int64),
        segment_times=_read_only([[-1e12, 2e12, -1e12, 1e12]]),
        chains=_read_only([[0]], np.int64),
        coverage_et=(-1e12, 1e12),
        kernels=(),
    )


def _run_kernel(states, t_out, ephem, *, epsilon=1e-9, c2=np.inf, radius2=None, dt_min=1e-6):
    """Call the IAS15 kernel directly (c2 = inf switches the GR term off)."""
    states = np.ascontiguousarray(states, dtype=np.float64)
    t_out = np.asarray(t_out, dtype=np.float64)
    n = states.shape[0]
    out = np.full((n, t_out.size, 6), np.nan)
    status = np.zeros(n, dtype=np.int8)
    body = np.full(n, -1, dtype=np.int64)
    fail = np.full(n, np.nan)
    if radius2 is None:
        radius2 = np.zeros(ephem.naif_ids.size)
    evicted = np.full(n, np.nan)
    stats = ias15_integrate(states, np.arange(n), 0.0, t_out, np.arange(t_out.size), 0.0,
                            epsilon, dt_min, 1e4, ephem.data, ephem.segments,
                            ephem.segment_times, ephem.chains, ephem.gm_au3_per_day2, radius2,
                            c2, np.zeros((0, 9)), out, status, body, fail, np.empty((n, 6)),
                            evicted)
    assert np.isnan(evicted).all()
    return out, status, body, stats


def _ecliptic_to_barycentric(states, mjd_tdb, perturbers):
    """Heliocentric ecliptic J2000 states -> barycentric ICRF."""
    states = np.asarray(states, dtype=np.float64)
    rotated = np.hstack([states[:, :3] @ ECLIPTIC_TO_EQUATORIAL.T,
                         states[:, 3:] @ ECLIPTIC_TO_EQUATORIAL.T])
    return rotated + spk.states(perturbers, mjd_tdb)[:, 0]


@pytest.fixture(scope="module")
def perturbers():
    return spk.load_perturbers()


@pytest.fixture(scope="module")
def main_belt(shared_data, perturbers):
    """(states, epoch): the 1,000 synthetic main-belt orbits, barycentric ICRF."""
    table = pd.read_csv(shared_data / "orbits" / "s3m_mba_1000_cart.csv")
    epoch = float(table["epochMJD_TDB"].iloc[0])
    helio = table[["x", "y", "z", "xdot", "ydot", "zdot"]].to_numpy()
    return _ecliptic_to_barycentric(helio, [epoch], perturbers), epoch


# --- force kernel ------------------------------------------------------------------------------


def _reference_accelerations(pos, vel, et, perturbers):
    """Accelerations from a NumPy loop over bodies whose states come from spiceypy."""
    for kernel in perturbers.kernels:
        spiceypy.furnsh(kernel)
    acc = np.zeros_like(pos)
    km_s = SECONDS_PER_DAY / AU_KM
    sun = np.array(spiceypy.spkgeo(10, et, "J2000", 0)[0])
    for gm, naif in zip(perturbers.gm_au3_per_day2, perturbers.naif_ids, strict=True):
        body = np.array(spiceypy.spkgeo(int(naif), et, "J2000", 0)[0])[:3] / AU_KM
        d = pos - body
        acc -= gm * d / np.linalg.norm(d, axis=1, keepdims=True) ** 3
    r = pos - sun[:3] / AU_KM
    v = vel - sun[3:] * km_s
    gm = perturbers.gm_au3_per_day2[0]
    rn = np.linalg.norm(r, axis=1, keepdims=True)
    v2 = np.sum(v * v, axis=1, keepdims=True)
    rv = np.sum(r * v, axis=1, keepdims=True)
    acc += gm / (C_AU_PER_DAY**2 * rn**3) * ((4 * gm / rn - v2) * r + 4 * rv * v)
    return acc


def test_force_kernel_matches_numpy_reference(perturbers):
    rng = np.random.default_rng(1)
    et = (EPOCH - MJD_J2000) * SECONDS_PER_DAY
    bodies = body_states(perturbers.data, perturbers.segments, perturbers.segment_times,
                         perturbers.chains, et, np.empty((perturbers.naif_ids.size, 6)))
    pos = rng.uniform(-5, 5, (40, 3))
    vel = rng.uniform(-0.02, 0.02, (40, 3))
    # One particle 1000 km from the Earth's centre, one 100 km above the Moon's surface.
    pos[0] = bodies[3, :3] + np.array([1000.0, 0, 0]) / AU_KM
    pos[1] = bodies[4, :3] + np.array([0, 1837.4, 0]) / AU_KM
    radius2 = nbody.impact_radii_au(perturbers) ** 2
    acc = np.empty((3, 40))
    hit = np.full(40, -1, dtype=np.int64)
    accelerations(np.ascontiguousarray(pos.T), np.ascontiguousarray(vel.T), 40, bodies,
                  perturbers.gm_au3_per_day2, radius2, C_AU_PER_DAY**2, np.zeros((0, 9)), acc,
                  hit)
    ref = _reference_accelerations(pos, vel, et, perturbers)
    scale = np.linalg.norm(ref, axis=1)
    assert np.all(np.abs(acc.T - ref).max(axis=1) < 1e-12 * scale)
    assert hit[0] == list(perturbers.naif_ids).index(399)
    assert (hit[1:] == -1).all()


def test_force_kernel_only_touches_the_first_n_columns(perturbers):
    bodies = spk.states(perturbers, [EPOCH])[0]
    pos = np.full((3, 5), 2.0)
    acc = np.full((3, 5), 7.0)
    hit = np.full(5, -1, dtype=np.int64)
    accelerations(pos, pos * 0.01, 3, bodies, perturbers.gm_au3_per_day2,
                  np.zeros(perturbers.naif_ids.size), C_AU_PER_DAY**2,
                  nbody.zonal_harmonics(perturbers, EPOCH), acc, hit)
    assert (acc[:, 3:] == 7.0).all()
    assert np.isfinite(acc[:, :3]).all()


def _zonal_potential(r, gm, radius, js, pole):
    """Gravitational potential of the zonal terms (the acceleration is its gradient),
    −GM Σ J_n Rⁿ P_n(s) / r^(n+1), with Legendre polynomials from NumPy."""
    distance = np.linalg.norm(r)
    s = r @ pole / distance
    return sum(-gm * j * radius**n * np.polynomial.legendre.Legendre.basis(n)(s)
               / distance ** (n + 1) for n, j in zip((2, 3, 4), js, strict=True))


def test_zonal_harmonics_are_the_gradient_of_their_potential(perturbers):
    """The Earth's J2-J4 (true pole of date) and the Sun's J2 in the kernel equal the numerical
    gradient of the zonal potential (central differences), at points 7,000 km to
    0.09 AU from the Earth's centre and 0.01-3 AU from the Sun; nothing beyond 0.1 AU from the
    Earth; and J2 dominates at low altitude as the constants say (~1e-3 of the monopole)."""
    from ephemerides._force_kernels import _zonal as zonal_accelerations
    from ephemerides.spk import kernel_constants

    bodies = spk.states(perturbers, [EPOCH])[0]
    table = nbody.zonal_harmonics(perturbers, EPOCH)
    ids = list(perturbers.naif_ids)
    earth, sun = ids.index(399), ids.index(10)
    assert table[:, 0].tolist() == [earth, sun]
    constants = kernel_constants(perturbers.kernels[0])
    rng = np.random.default_rng(4)
    directions = rng.normal(size=(12, 3))
    directions /= np.linalg.norm(directions, axis=1)[:, None]
    cases = [(earth, d * r) for d, r in zip(directions[:6], np.geomspace(7000 / AU_KM, 0.09, 6),
                                            strict=True)]
    cases += [(sun, d * r) for d, r in zip(directions[6:], np.geomspace(0.01, 3.0, 6),
                                           strict=True)]
    for body, offset in cases:
        row = table[int(table[:, 0].tolist().index(body))]
        # The zonal terms alone (in the sum they are ~1e-10 of it).
        kernel = np.array(zonal_accelerations(*offset, offset @ offset,
                                              perturbers.gm_au3_per_day2[body], *row[2:9]))
        gm = perturbers.gm_au3_per_day2[body]
        step = 1e-6 * np.linalg.norm(offset)
        gradient = np.array([
            (_zonal_potential(offset + e, gm, row[2], row[3:6], row[6:9])
             - _zonal_potential(offset - e, gm, row[2], row[3:6], row[6:9])) / (2 * step)
            for e in np.eye(3) * step])
        assert np.allclose(kernel, gradient, rtol=1e-7, atol=0.0), (body, offset)
    # The Earth's constants as DE440 gives them, and its pole within 0.2° of the ICRF's z axis
    # (precession since J2000).
    assert table[0, 3:6].tolist() == [constants["J2E"], constants["J3E"], constants["J4E"]]
    assert 0.05 < np.degrees(np.arccos(table[0, 8])) < 0.2
    # Beyond the reach: nothing.
    far = np.ascontiguousarray((bodies[earth, :3] + directions[0] * 0.11)[:, None])
    a, b = np.empty((3, 1)), np.empty((3, 1))
    hit = np.full(1, -1, dtype=np.int64)
    accelerations(far, far * 0, 1, bodies, perturbers.gm_au3_per_day2, np.zeros(len(ids)),
                  np.inf, np.ascontiguousarray(table[:1]), a, hit)
    accelerations(far, far * 0, 1, bodies, perturbers.gm_au3_per_day2, np.zeros(len(ids)),
                  np.inf, np.zeros((0, 9)), b, hit)
    assert (a == b).all()


# --- IAS15 kernel against Kepler motion -------------------------------------------------------


def test_ias15_matches_kepler_over_many_orbits():
    """Sun only (at rest, no GR): IAS15 vs the universal-variable Kepler solution over 10 years
    for a circular 1 AU orbit, an eccentric Apollo-like orbit (q = 0.3 AU), a main-belt orbit
    and a hyperbola."""
    gm = GM_SUN_AU3_PER_DAY2
    k = np.sqrt(gm)
    states = np.array([
        [1.0, 0.0, 0.0, 0.0, k, 0.0],
        [0.3, 0.0, 0.05, 0.0, k * np.sqrt(1.8 / 0.3), 0.0],  # e = 0.8, a = 1.5 AU
        [0.0, 2.7, 0.3, -k / np.sqrt(2.7) * 0.98, 0.0, 0.05 * k],
        [1.5, 0.5, 0.0, -0.03, 0.01, 0.002],  # unbound
    ])
    t = np.linspace(36.525, 3652.5, 100)
    # One particle per call: the kernel keeps a batch together only while its members want
    # steps of similar length.
    runs = [_run_kernel(state[None, :], t, _sun_fixed_ephemeris()) for state in states]
    out = np.concatenate([run[0] for run in runs])
    assert all(run[1][0] == OK for run in runs)
    ref = np.stack([kepler_step(states, np.full(4, dt), gm) for dt in t], axis=1)
    r = np.linalg.norm(ref[..., :3], axis=2)
    rel = np.linalg.norm(out[..., :3] - ref[..., :3], axis=2) / r
    assert rel.max() < 1e-12, rel.max(axis=1)
    vrel = np.linalg.norm(out[..., 3:] - ref[..., 3:], axis=2) / np.linalg.norm(ref[..., 3:],
                                                                                  axis=2)
    assert vrel.max() < 1e-11
    assert min(run[3][0] for run in runs) > 50  # the comparison spans many steps


# --- accuracy against JPL Horizons -----------------------------------------------------------


def _horizons_errors(shared_data, perturbers, from_states_row):
    """Max position error (m) per object over its ±30-day Horizons arc."""
    truth = shared_data / "truth"
    orbits = pd.read_csv(truth / "horizons_orbits.csv", dtype={"object_id": str})
    states = pd.read_csv(truth / "horizons_states.csv", dtype={"object_id": str})
    errors = {}
    for _, orbit in orbits.iterrows():
        rows = states[states["object_id"] == orbit["object_id"]]
        ephem = perturbers
        if orbit["object_id"] == "2":
            # (2) Pallas is itself a perturber: integrate it without itself, as Horizons does.
            ids = [i for i in perturbers.naif_ids if i != 2_000_002]
            ephem = spk.load_spk(perturbers.kernels, ids, mjd_tdb_range=(50_000, 62_000))
        if from_states_row:
            start = rows.loc[rows["mjd_tdb"] == orbit["mjd_tdb"], STATE_COLUMNS].to_numpy()
        else:
            start = orbit[STATE_COLUMNS].to_numpy(dtype=np.float64)[None, :]
        x0 = _ecliptic_to_barycentric(start, [orbit["mjd_tdb"]], ephem)
        mjd = rows["mjd_tdb"].to_numpy()
        ours, status = nbody.integrate(x0, orbit["mjd_tdb"], mjd, perturbers=ephem)
        assert status[0] == 0
        expected = _ecliptic_to_barycentric(rows[STATE_COLUMNS].to_numpy(), mjd, ephem)
        errors[orbit["object_id"]] = (
            np.linalg.norm(ours[0, :, :3] - expected[:, :3], axis=1).max() * M_PER_AU
        )
    return errors


@pytest.mark.shared_data
def test_positions_match_horizons(shared_data, perturbers):
    errors = _horizons_errors(shared_data, perturbers, from_states_row=False)
    print("max position error vs Horizons over ±30 days (m):",
          {k: round(float(v), 2) for k, v in errors.items()})
    assert len(errors) == 14
    for object_id, error in errors.items():
        assert error <= TOLERANCE_M.get(object_id, DEFAULT_TOLERANCE_M), (object_id, error)
        assert error <= 100.0


@pytest.mark.shared_data
def test_positions_match_horizons_from_a_consistent_start(shared_data, perturbers):
    errors = _horizons_errors(shared_data, perturbers, from_states_row=True)
    print("max position error vs Horizons, started from horizons_states.csv (m):",
          {k: round(float(v), 2) for k, v in errors.items()})
    assert max(errors.values()) <= CONSISTENT_TOLERANCE_M, errors


# --- driver behaviour ------------------------------------------------------------------------


@pytest.mark.shared_data
def test_ten_year_round_trip_closes(main_belt, perturbers):
    states, epoch = main_belt
    rng = np.random.default_rng(3)
    start = states[rng.choice(states.shape[0], 20, replace=False)]
    there, status = nbody.integrate(start, epoch, [epoch + 3652.5], perturbers)
    back, status_back = nbody.integrate(there[:, 0], epoch + 3652.5, [epoch], perturbers)
    assert (status == 0).all() and (status_back == 0).all()
    miss_m = np.linalg.norm(back[:, 0, :3] - start[:, :3], axis=1) * M_PER_AU
    assert miss_m.max() < 1.0, miss_m.max()


@pytest.mark.shared_data
def test_dense_output_matches_exact_stops(main_belt, perturbers):
    states, epoch = main_belt
    start = states[::50]
    rng = np.random.default_rng(4)
    times = epoch + np.concatenate([rng.uniform(-60, 60, 7), [0.3, -0.3]])
    dense, _ = nbody.integrate(start, epoch, times, perturbers)
    for j, t in enumerate(times):
        exact, _ = nbody.integrate(start, epoch, [t], perturbers)
        assert np.linalg.norm(dense[:, j, :3] - exact[:, 0, :3], axis=1).max() * M_PER_AU < 0.01


def test_times_in_any_order_and_the_epoch(perturbers):
    state = np.array([[2.0, 1.0, 0.1, -0.005, 0.009, 0.001]])
    times = EPOCH + np.array([10.0, -3.0, 0.0, 25.0, -20.0, 10.0])
    out, status = nbody.integrate(state, EPOCH, times, perturbers)
    assert status[0] == 0
    order = np.argsort(times)
    sorted_out, _ = nbody.integrate(state, EPOCH, times[order], perturbers)
    np.testing.assert_array_equal(out[:, order], sorted_out)
    np.testing.assert_array_equal(out[0, 2], state[0])
    np.testing.assert_array_equal(out[0, 0], out[0, 5])


def test_impact_and_escape_are_flagged_per_particle(perturbers):
    earth = spk.states(perturbers, [EPOCH])[0, 3]
    toward_earth = earth.copy()
    toward_earth[:3] += np.array([0.02, 0.0, 0.0])
    toward_earth[3:] += np.array([-0.01, 0.0, 0.0])  # 17 km/s straight at the Earth: 2 days
    far = np.array([9_990.0, 0.0, 0.0, 0.1, 0.0, 0.0])  # crosses 10^4 AU after 100 days
    ordinary = np.array([[2.2, 1.0, 0.1, -0.005, 0.010, 0.001],
                         [-2.6, -0.8, 0.2, 0.004, -0.009, 0.0]])
    batch = np.vstack([ordinary[:1], toward_earth, far, ordinary[1:]])
    times = EPOCH + np.array([1.0, 30.0, 200.0])
    result = nbody.integrate_detailed(batch, EPOCH, times, perturbers)
    assert list(result.status) == [0, IMPACT, ESCAPED, 0]
    assert nbody.STATUS[IMPACT] == "impact" and nbody.STATUS[ESCAPED] == "escaped"
    assert result.impact_naif_id[1] == 399
    assert 1.0 < result.failure_mjd_tdb[1] - EPOCH < 3.0
    assert np.isfinite(result.states[1, 0]).all() and np.isnan(result.states[1, 1:]).all()
    assert np.isnan(result.states[2, 2]).all()
    alone, status = nbody.integrate(ordinary, EPOCH, times, perturbers)
    assert (status == 0).all()
    miss_m = np.linalg.norm(result.states[[0, 3], :, :3] - alone[..., :3], axis=2) * M_PER_AU
    assert miss_m.max() < 0.01


@pytest.mark.shared_data
def test_a_close_approach_does_not_change_the_rest_of_the_batch(main_belt, perturbers):
    """A particle passing 60,000 km from the Earth is split off the batch (it needs steps of
    minutes for a day); everyone's states match their integrations alone."""
    states, epoch = main_belt
    earth = spk.states(perturbers, [epoch + 10.0])[0, 3]
    flyby = earth + np.array([0.0, 4e-4, 0.0, 0.0, 0.0, 0.0])
    flyby[3:] += np.array([0.008, 0.0, 0.0])
    back, _ = nbody.integrate(flyby, epoch + 10.0, [epoch], perturbers)
    batch = np.vstack([states[:30], back[:, 0]])
    times = epoch + np.array([5.0, 12.0, 40.0])
    together = nbody.integrate_detailed(batch, epoch, times, perturbers)
    assert (together.status == 0).all()
    alone = np.stack([nbody.integrate(x, epoch, times, perturbers)[0][0] for x in batch])
    miss_m = np.linalg.norm(together.states[..., :3] - alone[..., :3], axis=2) * M_PER_AU
    assert miss_m.max() < 0.01, miss_m.max()


def test_step_collapse_stops_only_that_particle(perturbers):
    """With an absurd step floor of 1 day, an Earth-grazing particle (which needs far shorter
    steps) is stopped with status 3; the main-belt particle beside it goes on."""
    earth = spk.states(perturbers, [EPOCH])[0, 3]
    grazer = earth + np.array([0.01, 0.0, 0.0, -0.002, 0.0005, 0.0])
    ordinary = np.array([2.6, 0.8, 0.2, -0.004, 0.009, 0.0])
    et0 = (EPOCH - MJD_J2000) * SECONDS_PER_DAY
    states = np.vstack([grazer, ordinary])
    out = np.full((2, 1, 6), np.nan)
    status = np.zeros(2, dtype=np.int8)
    body = np.full(2, -1, dtype=np.int64)
    fail = np.full(2, np.nan)
    ias15_integrate(states, np.arange(2), 0.0, np.array([30.0]), np.array([0]), et0, 1e-9, 1.0,
                    1e4, perturbers.data, perturbers.segments, perturbers.segment_times,
                    perturbers.chains, perturbers.gm_au3_per_day2,
                    np.zeros(perturbers.naif_ids.size), C_AU_PER_DAY**2,
                    nbody.zonal_harmonics(perturbers, EPOCH), out, status, body, fail,
                    np.empty((2, 6)), np.full(2, np.nan))
    assert list(status) == [STEP_COLLAPSED, OK]
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()


def test_coverage_error_names_the_kernel_and_range(perturbers):
    state = np.array([1.0, 0.0, 0.0, 0.0, 0.017, 0.0])
    with pytest.raises(ValueError, match=r"de440\.bsp.*MJD TDB"):
        nbody.integrate(state, EPOCH, [EPOCH, 400_000.0], perturbers)
    with pytest.raises(ValueError, match="outside the coverage"):
        nbody.integrate(state, -150_000.0, [EPOCH], perturbers)


def test_bad_inputs_are_refused(perturbers):
    with pytest.raises(ValueError, match=r"shape \(n, 6\)"):
        nbody.integrate(np.zeros((2, 5)), EPOCH, [EPOCH + 1], perturbers)
    with pytest.raises(ValueError, match="NaN"):
        nbody.integrate(np.full(6, np.nan), EPOCH, [EPOCH + 1], perturbers)
    with pytest.raises(ValueError, match="epsilon"):
        nbody.integrate(np.ones(6), EPOCH, [EPOCH + 1], perturbers, epsilon=0.0)
    with pytest.raises(ValueError, match="epoch_mjd_tdb"):
        nbody.integrate(np.ones(6), np.nan, [EPOCH + 1], perturbers)


def test_zonal_rows_are_dropped_per_step_when_no_particle_is_near(perturbers):
    """``zonal_in_reach`` keeps a body's row when a particle is within its reach and sets its
    reach to 0 otherwise (brute force over the particles); the Sun's row is always kept."""
    from ephemerides._force_kernels import zonal_in_reach

    bodies = spk.states(perturbers, [EPOCH])[0]
    table = nbody.zonal_harmonics(perturbers, EPOCH)
    earth = bodies[int(table[0, 0]), :3]
    far = np.array([[2.5, 0.3, 0.1], [-1.0, 2.0, 0.0]])
    for positions in (far, np.vstack([far, earth + np.array([0.05, 0.0, 0.0])])):
        pos = np.ascontiguousarray(np.hstack([positions.T, np.full((3, 2), 9.0)]))
        out = np.empty_like(table)
        zonal_in_reach(pos, positions.shape[0], bodies, table, out)
        near = (np.linalg.norm(positions - earth, axis=1) < nbody.EARTH_HARMONICS_REACH_AU).any()
        expected = table.copy()
        if not near:
            expected[0, 1] = 0.0
        np.testing.assert_array_equal(out, expected)
