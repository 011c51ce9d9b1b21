"""Orbit determination from any astrometry (linking.orbitdet), against JPL and real data."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ephemerides import ephemeris, propagate, read_orbits
from ephemerides.constants import AU_KM, EQUATORIAL_TO_ECLIPTIC
from ephemerides.designations import ss_object_ids
from ephemerides.elements import (
    cartesian_to_keplerian,
    ecliptic_to_equatorial,
    equatorial_to_ecliptic,
    keplerian_to_cartesian,
)
from ephemerides.errors import InputError
from ephemerides.timescales import convert_mjd
from linking.mpc_formats import read_mpc80
from linking.orbitdet import (
    COVARIANCE_COLUMNS,
    DeterminationConfig,
    determine_orbit,
    orbit_table,
    read_fitted_orbits,
    residual_table,
    station_sigma_arcsec,
)
from sso.cli import main

DATA = Path(__file__).resolve().parent / "data"
STATE = ["x_au", "y_au", "z_au", "vx_au_per_day", "vy_au_per_day", "vz_au_per_day"]


def test_station_and_epoch_weights_follow_veres_2017():
    """Tables 2-4 of Vereš et al. (2017): epoch-dependent surveys, fixed stations, and the
    catalogue rule for every other station."""
    codes = ["703", "703", "691", "644", "F51", "G96", "W84", "Z99", "Z99", "Z99"]
    mjd = [56000.0, 57000.0, 52000.0, 53000.0, 59000.0, 59000.0, 59000.0, 59000.0, 45000.0,
           59000.0]
    np.testing.assert_array_equal(station_sigma_arcsec(codes, mjd),
                                  [1.0, 0.8, 0.6, 0.4, 0.2, 0.5, 0.5, 1.0, 1.5, 1.0])
    catalogues = ["V"] * 9 + [""]
    assert station_sigma_arcsec(codes, mjd, catalogues)[-1] == 1.5  # catalogue unknown


def _horizons_detections(eph: pd.DataFrame, name: str) -> pd.DataFrame:
    rows = eph[eph["object_id"] == name]
    return pd.DataFrame({
        "diaSourceId": np.arange(len(rows), dtype=np.int64),
        "designation": name,
        "midpointMjdTai": convert_mjd(rows["mjd_utc"].to_numpy(), "utc", "tai"),
        "ra": rows["RA"].to_numpy(), "dec": rows["DEC"].to_numpy(),
        "observatoryCode": rows["observatory_code"].to_numpy(),
        "raErr": 0.1 / 3600.0, "decErr": 0.1 / 3600.0,
    })


def _cart_orbit(name, state_icrf, epoch):
    ecliptic = np.concatenate([equatorial_to_ecliptic(state_icrf[:3]),
                               equatorial_to_ecliptic(state_icrf[3:])])
    return pd.DataFrame({"object_id": [name], "ssObjectId": ss_object_ids([name]),
                         "format": ["CART"],
                         **{c: [v] for c, v in zip(STATE, ecliptic, strict=True)},
                         "epoch_mjd_tdb": [epoch], "H": [15.0], "G": [0.15]})


def test_orbits_determined_from_jpl_positions_reproduce_jpl_states(shared_data):
    """Independent truth: JPL Horizons' astrometric positions of 14 objects of every class
    (90 epochs over 60 days from Rubin and CTIO) give orbits whose states match Horizons'
    own states over the arc — within 10 km for the near-Earth, main-belt and Trojan
    objects (Pallas among them, fitted without its own attraction), within 1,000 km for the
    Centaur and TNOs, whose distance two months of arc pin down least."""
    eph = pd.read_csv(shared_data / "truth/horizons_ephemeris.csv", dtype={"object_id": str})
    states = pd.read_csv(shared_data / "truth/horizons_states.csv", dtype={"object_id": str})
    classes = pd.read_csv(shared_data / "truth/horizons_orbits.csv",
                          dtype={"object_id": str}).set_index("object_id")["dynamical_class"]
    for name in classes.index:
        fit, _ = determine_orbit(_horizons_detections(eph, name))
        assert fit.status == "ok" and fit.used.all(), name
        truth = states[states["object_id"] == name]
        ours = propagate(_cart_orbit(name, fit.state, fit.epoch_mjd_tdb),
                         truth["mjd_tdb"].to_numpy(), frame="equatorial")
        off_km = np.linalg.norm(ours[STATE[:3]].to_numpy()
                                - ecliptic_to_equatorial(truth[STATE[:3]].to_numpy()),
                                axis=1).max() * AU_KM
        far = classes[name] in ("Centaur", "Trans-Neptunian Object")
        assert off_km < (1000.0 if far else 10.0), (name, off_km)


def test_real_astrometry_of_a_numbered_asteroid_is_fitted_with_every_observation():
    """(8467) Benoitcarry, 69 real observations of 2021 from ZTF, Pan-STARRS 1 and Catalina
    (tests/data/README.md), weighted by Vereš et al.: every observation kept, RMS well under
    the weights' 0.2-1″, a main-belt orbit and an absolute magnitude from the photometry."""
    table = read_mpc80(DATA / "mpc_8467_2021.obs")
    fit, frame = determine_orbit(table)
    assert fit.status == "ok" and fit.used.all()
    assert fit.rms_arcsec < 0.3
    assert set(frame["sigma_arcsec"]) <= {0.2, 0.5, 1.0}
    helio = np.concatenate([equatorial_to_ecliptic(fit.state[:3]),
                            equatorial_to_ecliptic(fit.state[3:])])
    a, e, inc = cartesian_to_keplerian(helio[None])[0, :3]
    assert 3.0 < a < 3.4 and e < 0.2 and 5.0 < inc < 15.0
    orbits = orbit_table({"8467": (fit, frame)})
    assert 12.0 < orbits.loc[0, "H"] < 14.5
    assert orbits.loc[0, "epoch_mjd_tdb"] == round(fit.epoch_mjd_tdb, 1)


def test_fitted_orbits_are_read_back_with_their_covariance(tmp_path):
    """``orbit_table`` written to CSV and read by ``read_fitted_orbits``: the covariance comes
    back (ecliptic, as the state), a file without covariance columns gives NaN, and broken
    covariances are named with file and row."""
    table = read_mpc80(DATA / "mpc_8467_2021.obs")
    fit, frame = determine_orbit(table)
    path = tmp_path / "orbits.csv"
    orbit_table({"8467": (fit, frame)}).to_csv(path, index=False)
    read = read_fitted_orbits(path)
    rotation = np.kron(np.eye(2), EQUATORIAL_TO_ECLIPTIC)
    expected = rotation @ fit.covariance @ rotation.T
    np.testing.assert_allclose(read.loc[0, "covariance"].reshape(6, 6), expected, rtol=1e-9,
                               atol=0.0)
    raw = pd.read_csv(path)
    raw.drop(columns=list(COVARIANCE_COLUMNS)).to_csv(tmp_path / "bare.csv", index=False)
    assert np.isnan(read_fitted_orbits(tmp_path / "bare.csv").loc[0, "covariance"]).all()
    raw.assign(cov_x_y=np.nan).to_csv(tmp_path / "hole.csv", index=False)
    with pytest.raises(InputError, match=r"hole.csv, row 1 \(8467\): covariance column "
                       "cov_x_y is empty"):
        read_fitted_orbits(tmp_path / "hole.csv")
    raw.assign(cov_x_x=-1.0).to_csv(tmp_path / "negative.csv", index=False)
    with pytest.raises(InputError, match=r"negative.csv, row 1 .*positive definite"):
        read_fitted_orbits(tmp_path / "negative.csv")


def _long_arc(seed: int = 3):
    """Six oppositions (2014-2022) of a main-belt orbit from three stations, 0.3″ noise,
    three 20″ outliers: (detections, true ICRF state at MJD 57000 TDB, outlier rows)."""
    truth = keplerian_to_cartesian([2.7], [0.15], [12.0], [80.0], [30.0], [10.0])[0]
    orbit = pd.DataFrame({"object_id": ["LONG"], "ssObjectId": ss_object_ids(["LONG"]),
                          "format": ["CART"], **{c: [v] for c, v in zip(STATE, truth, strict=True)},
                          "epoch_mjd_tdb": [57000.0], "H": [14.0], "G": [0.15]})
    rng = np.random.default_rng(seed)
    parts = []
    for k, code in enumerate(["F51", "G96", "I41"]):
        starts = 57000.0 + 540.0 * np.arange(6) + 7.0 * k
        times = np.concatenate([s + np.array([0.0, 0.02, 1.0, 1.02, 3.0, 3.02]) for s in starts])
        eph = ephemeris(orbit, times, observatory_code=code, time_scale="tdb")
        parts.append(pd.DataFrame({
            "midpointMjdTai": convert_mjd(eph["mjd_utc"].to_numpy(), "utc", "tai"),
            "ra": eph["ra_deg"], "dec": eph["dec_deg"], "observatoryCode": code}))
    table = pd.concat(parts, ignore_index=True)
    noise = rng.normal(0.0, 0.3 / 3600.0, (len(table), 2))
    table["ra"] += noise[:, 0] / np.cos(np.radians(table["dec"]))
    table["dec"] += noise[:, 1]
    outliers = np.array([5, 40, 80])
    table.loc[outliers, "dec"] += 20.0 / 3600.0
    table["diaSourceId"] = np.arange(len(table), dtype=np.int64)
    table["designation"] = "LONG"
    table["raErr"] = table["decErr"] = 0.3 / 3600.0
    return table, ecliptic_to_equatorial(truth.reshape(2, 3)).reshape(6), outliers


def test_a_multi_opposition_arc_is_extended_from_a_short_window_and_outliers_set_aside():
    """Seven years of sparse astrometry: the first/middle/last detections give Gauss nothing
    useful, the densest window does; the arc is then widened to every observation, the three
    20″ outliers are set aside — with at most the 2 % of good ones a χ² > 8 test sets aside
    by chance (exp(−4) for two Gaussian coordinates) — and the orbit is as close to the truth
    as its covariance says."""
    table, truth, outliers = _long_arc()
    fit, frame = determine_orbit(table)
    assert fit.status == "ok"
    rejected = frame.loc[~fit.used, "diaSourceId"].to_numpy()
    assert set(outliers) <= set(rejected) and len(rejected) <= len(outliers) + 3
    # The error is what the covariance says it may be: the true state at the fit's epoch
    # within the 99.9 % region (χ² of 6 degrees of freedom below 22.5), and under 200 km.
    true_state = propagate(_cart_orbit("LONG", truth, 57000.0), [fit.epoch_mjd_tdb],
                           frame="equatorial")[STATE].to_numpy()[0]
    error = fit.state - true_state
    assert error @ np.linalg.solve(fit.covariance, error) < 22.5
    assert np.linalg.norm(error[:3]) * AU_KM < 200.0
    residuals = residual_table({"LONG": (fit, frame)}).set_index("diaSourceId")
    assert (~residuals["used"]).sum() == len(rejected)
    assert (residuals.loc[outliers, "residual_dec_arcsec"].abs() > 15.0).all()


def test_too_little_astrometry_gives_no_initial_orbit_and_bad_settings_are_named():
    table = read_mpc80(DATA / "mpc_8467_2021.obs")
    first_nights = table[table["midpointMjdTai"] < table["midpointMjdTai"].min() + 2.5]
    fit, _ = determine_orbit(first_nights)
    assert fit.status == "no_initial_orbit" and not np.isfinite(fit.state).any()
    with pytest.raises(ValueError, match="recover_chi2 must be <= reject_chi2"):
        determine_orbit(table, config=DeterminationConfig(recover_chi2=9.0))
    with pytest.raises(ValueError, match="method must be one of 2body, nbody; got 'rk4'"):
        determine_orbit(table, method="rk4")


def test_orbit_fit_command_writes_orbits_that_predict_the_observations(tmp_path, capsys):
    """`sso orbit fit` on real MPC astrometry: an orbit table read_orbits reads, residuals,
    and `sso ephemeris` of that orbit from each station gives back the observed positions."""
    out, residuals = tmp_path / "orbits.csv", tmp_path / "residuals.csv"
    assert main(["orbit", "fit", "--observations", str(DATA / "mpc_8467_2021.obs"),
                 "--out", str(out), "--residuals", str(residuals)]) == 0
    assert "8467: ok, 69 of 69 observations kept (0 rejected)" in capsys.readouterr().out
    orbits = read_orbits(out)
    assert orbits["object_id"].tolist() == ["8467"] and orbits.loc[0, "format"] == "CART"
    table = pd.read_csv(out)
    assert table.loc[0, "cov_x_x"] > 0 and table.loc[0, "n_used"] == 69
    observed = read_mpc80(DATA / "mpc_8467_2021.obs")
    for code, rows in observed.groupby("observatoryCode"):
        times = convert_mjd(rows["midpointMjdTai"].to_numpy(), "tai", "utc")
        eph = ephemeris(orbits, times, observatory_code=code).sort_values("mjd_utc")
        order = np.argsort(times)
        dra = (eph["ra_deg"].to_numpy() - rows["ra"].to_numpy()[order]) \
            * np.cos(np.radians(rows["dec"].to_numpy()[order]))
        ddec = eph["dec_deg"].to_numpy() - rows["dec"].to_numpy()[order]
        assert np.hypot(dra, ddec).max() * 3600.0 < 1.0, code
    assert len(pd.read_csv(residuals)) == 69
    # Refusals before any work: same file twice, an output suffix we do not write.
    assert main(["orbit", "fit", "--observations", str(DATA / "mpc_8467_2021.obs"),
                 "--out", str(out), "--residuals", str(out)]) == 2
    assert "--residuals" in capsys.readouterr().err
    assert main(["orbit", "fit", "--observations", str(DATA / "mpc_8467_2021.obs"),
                 "--out", str(tmp_path / "o.txt")]) == 2
    assert not (tmp_path / "o.txt").exists()


def test_ades_astrometry_gives_the_orbit_of_the_same_observations_in_80_columns(tmp_path):
    """The 8467 observations written as ADES PSV (read_astrometry detects the format) are
    fitted to the same orbit as the 80-column file, to the written precision."""
    from linking.mpc_formats import format_ades_psv, read_astrometry

    table = read_mpc80(DATA / "mpc_8467_2021.obs")
    path = tmp_path / "8467.psv"
    path.write_text(format_ades_psv(table.drop(columns=["note2"]), telescope={
        "design": "Reflector", "aperture": 1.0, "detector": "CCD"}))
    ades = read_astrometry(path)
    assert len(ades) == len(table) and (ades["designation"] == "8467").all()
    from_ades, _ = determine_orbit(ades)
    from_mpc, _ = determine_orbit(read_astrometry(DATA / "mpc_8467_2021.obs"))
    assert from_ades.status == from_mpc.status == "ok"
    assert from_ades.epoch_mjd_tdb == from_mpc.epoch_mjd_tdb
    assert np.linalg.norm(from_ades.state[:3] - from_mpc.state[:3]) * AU_KM < 50.0


def test_forty_eight_years_of_real_astrometry_from_37_stations_give_one_orbit():
    """(33803): 1,812 real observations, 1976-2024, plates to CCD surveys (tests/data/README.md).
    determine_orbit starts on a dense window, extends to the whole arc with N-body motion, and
    keeps ≥ 99 % of the observations at an RMS under 0.5″, on an inner-main-belt orbit."""
    table = read_mpc80(DATA / "mpc_33803.obs")
    fit, frame = determine_orbit(table)
    assert fit.status == "ok"
    assert fit.used.mean() >= 0.99 and fit.rms_arcsec < 0.5
    assert frame["observatoryCode"].nunique() == 37
    helio = np.concatenate([equatorial_to_ecliptic(fit.state[:3]),
                            equatorial_to_ecliptic(fit.state[3:])])
    a, e, inc = cartesian_to_keplerian(helio[None])[0, :3]
    assert 2.1 < a < 2.3 and 0.15 < e < 0.25 and 5.0 < inc < 9.0
