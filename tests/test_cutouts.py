"""Difference-image cutouts (sso.cutouts): trails of known motion measured back on the sky, the
simulator's seeded cutouts, and the association's check of measured trails against their
errors."""

import math

import numpy as np
import pandas as pd
import pytest

import sso.association
from ephemerides.errors import InputError
from sso.cadence import opposition_radec, synthetic_cadence
from sso.cli import main
from sso.cutouts import (
    check_cutouts,
    measure_cutouts,
    read_cutouts,
    render_cutouts,
    with_measured_trails,
)
from sso.footprint import inverse_gnomonic
from sso.population import field_population
from sso.simulate import simulate


def test_trails_of_known_motion_are_measured_on_the_sky():
    """Objects moving 2-40°/day towards position angles 0-315° during 30 s, 0.2″ pixels, PSF
    σ 3.5 px: length (″), position angle (North through East, modulo 180) and centre come
    back within 5σ of the motion that made them, and the errors are those of the fit."""
    rng = np.random.default_rng(4)
    n = 16
    speed = np.linspace(2.0, 40.0, n)  # deg/day
    pa = np.arange(n) * 45.0 % 360.0
    east, north = speed * np.sin(np.radians(pa)), speed * np.cos(np.radians(pa))
    ra0, dec0 = np.full(n, 210.0), np.linspace(-60.0, 60.0, n)
    # True centres 0.3″ off the DIASource positions.
    ra_true, dec_true = inverse_gnomonic(np.full(n, 0.3 / 206265), np.full(n, -0.2 / 206265),
                                         ra0, dec0)
    cutouts = render_cutouts(rng, np.arange(n), ra0, dec0, ra_true, dec_true, east, north,
                             30.0, np.full(n, 20000.0), np.full(n, 50.0), 3.5, 0.2)
    assert (cutouts["size"] % 2 == 1).all() and cutouts["size"].max() > 41  # long ones fit
    measured = measure_cutouts(cutouts)
    length = speed * 30.0 / 86400.0 * 3600.0
    assert (np.abs(measured["trailLength"] - length) < 5 * measured["trailLengthErr"]).all()
    off = (measured["trailAngle"] - pa + 90.0) % 180.0 - 90.0
    assert (np.abs(off) < 5 * measured["trailAngleErr"]).all()
    assert measured["trailAngle"].between(0.0, 180.0).all()
    dra = (measured["trailRa"] - ra_true) * np.cos(np.radians(dec_true)) * 3600.0
    ddec = (measured["trailDec"] - dec_true) * 3600.0
    assert (np.abs(dra) < 5 * measured["trailRaErr"] * 3600.0).all()
    assert (np.abs(ddec) < 5 * measured["trailDecErr"] * 3600.0).all()
    assert (measured["trailFlags"] == 0).all() and (measured["trailDeltaChi2"] > 100).all()
    assert measured["trailFlux"].to_numpy() == pytest.approx(20000.0, rel=0.05)


def test_simulated_cutouts_are_seeded_and_leave_the_diasources_as_they_were(tmp_path):
    center = opposition_radec(61000.0)
    visits = synthetic_cadence(3, nights=1, start_mjd=61000.0, center=center, fields_ra=1,
                               fields_dec=1)
    orbits, _ = field_population({"mba": 60}, center, 1.5, 61000.0, seed=3)
    plain = simulate(orbits, visits, 3, noise_per_deg2=10.0)
    first = simulate(orbits, visits, 3, noise_per_deg2=10.0, cutouts=True)
    again = simulate(orbits, visits, 3, noise_per_deg2=10.0, cutouts=True)
    other = simulate(orbits, visits, 4, noise_per_deg2=10.0, cutouts=True)
    pd.testing.assert_frame_equal(plain.diasources, first.diasources)
    assert plain.cutouts is None
    assert first.cutouts["diaSourceId"].tolist() == first.diasources["diaSourceId"].tolist()
    assert all(np.array_equal(a, b) for a, b in zip(first.cutouts["image"],
                                                    again.cutouts["image"], strict=True))
    assert not np.array_equal(first.cutouts["image"].iat[0], other.cutouts["image"].iat[0])
    check_cutouts(first.cutouts)
    path = tmp_path / "cutouts.parquet"
    first.cutouts.to_parquet(path)
    assert len(read_cutouts(path)) == len(first.cutouts)
    # The main-belt objects' short trails (0.3″, under the PSF) come back as simulated
    # (trailLength of the motion) where they are significant.
    measured = with_measured_trails(first.diasources, first.cutouts)
    real = first.truth["object_id"].notna().to_numpy()
    trailed = real & (measured["trailDeltaChi2"] > 13.82).to_numpy()
    pull = ((measured["trailLength"] - first.diasources["trailLength"])
            / measured["trailLengthErr"]).to_numpy()
    assert trailed.sum() >= 10 and (np.abs(pull[trailed]) < 5).all()


def test_measured_trails_are_checked_against_their_errors():
    """A predicted motion of 10″ towards 30°: a faint trail measured 11.5 ± 0.5″ agrees
    (3σ) though it is beyond the fixed 1″ tolerance; a bright one measured 10.6 ± 0.05″
    disagrees (12σ) though within it; the angle likewise; a source that is no better fitted
    as a trail than as a point (trailDeltaChi2 3), or whose fit is flagged, is not checked."""
    rate = 10.0 / 30.0 * 86400.0 / 3600.0  # deg/day for 10″ in 30 s
    pred = {"ra_rate": np.full(6, rate * math.sin(math.radians(30.0))),
            "dec_rate": np.full(6, rate * math.cos(math.radians(30.0)))}
    sources = {
        "trailLength": np.array([11.5, 10.6, 10.0, 10.0, 25.0, 25.0]),
        "trailLengthErr": np.array([0.5, 0.05, 0.05, 0.05, 0.05, 0.05]),
        "trailAngle": np.array([30.0, 30.0, 31.5, 33.0, 120.0, 120.0]),
        "trailAngleErr": np.array([0.5, 0.5, 0.5, 0.2, 0.5, 0.5]),
        "trailDeltaChi2": np.array([400.0, 400.0, 400.0, 400.0, 3.0, 400.0]),
        "trailFlags": np.array([0, 0, 0, 0, 0, 17]),
    }
    rows = np.arange(6)
    agrees = sso.association._trail_agrees(pred, rows, sources, 30.0, 1.0, 1.0, 10.0)
    assert agrees.tolist() == [True, False, True, False, True, True]
    fixed = {k: sources[k] for k in ("trailLength", "trailAngle")}
    assert sso.association._trail_agrees(pred, rows, fixed, 30.0, 1.0, 1.0,
                                         10.0).tolist() == [False, True, True, True, False,
                                                            False]


def test_cutouts_on_the_command_line(tmp_path, capsys):
    sim = tmp_path / "sim"
    assert main(["simulate", "--synthetic", "300", "--synthetic-cadence", "--nights", "1",
                 "--seed", "5", "--noise-per-deg2", "20", "--cutouts", "--out", str(sim)]) == 0
    cutouts = pd.read_parquet(sim / "cutouts.parquet")
    diasources = pd.read_parquet(sim / "diasources.parquet")
    assert cutouts["diaSourceId"].tolist() == diasources["diaSourceId"].tolist()
    for use in (False, True):
        out = tmp_path / f"night_{use}"
        assert main(["associate", "--visits", str(sim / "visits.parquet"),
                     "--diasources", str(sim / "diasources.parquet"),
                     "--orbits", str(sim / "orbits.parquet"), "--out", str(out),
                     *(["--cutouts", str(sim / "cutouts.parquet")] if use else [])]) == 0
    plain = pd.read_parquet(tmp_path / "night_False" / "diasources.parquet")
    measured = pd.read_parquet(tmp_path / "night_True" / "diasources.parquet")
    assert "trailLengthErr" in measured.columns and "trailLengthErr" not in plain.columns
    truth = pd.read_parquet(sim / "truth.parquet").set_index("diaSourceId")["object_id"]
    orbits = pd.read_parquet(sim / "orbits.parquet")
    ss_of = dict(zip(orbits["object_id"], orbits["ssObjectId"], strict=True))
    for table in (plain, measured):
        hits = table[table["ssObjectId"].notna()]
        assert len(hits) >= 15  # of the 20 real detections in this all-sky draw
        assert (hits["diaSourceId"].map(truth).map(ss_of) == hits["ssObjectId"]).all()
    assert measured["ssObjectId"].notna().sum() == plain["ssObjectId"].notna().sum()
    # A damaged cutout file is named, and nothing is written.
    broken = cutouts.assign(size=cutouts["size"] + 1)
    broken.to_parquet(tmp_path / "broken.parquet")
    assert main(["associate", "--visits", str(sim / "visits.parquet"),
                 "--diasources", str(sim / "diasources.parquet"),
                 "--orbits", str(sim / "orbits.parquet"), "--out", str(tmp_path / "x"),
                 "--cutouts", str(tmp_path / "broken.parquet")]) == 2
    assert "broken.parquet, row 0" in capsys.readouterr().err
    assert not (tmp_path / "x" / "diasources.parquet").exists()


def test_bad_cutouts_are_refused():
    good = render_cutouts(np.random.default_rng(1), [7], [10.0], [0.0], [10.0], [0.0], [0.0],
                          [0.0], 30.0, [1000.0], [50.0], 2.0, 0.2)
    with pytest.raises(InputError, match="lacks the column"):
        check_cutouts(good.drop(columns="variance"))
    with pytest.raises(InputError, match="more than one cutout"):
        check_cutouts(pd.concat([good, good], ignore_index=True))
    with pytest.raises(InputError, match="image must hold size"):
        check_cutouts(good.assign(image=[good["image"].iat[0][:-1]]))
    with pytest.raises(InputError, match="variance values must be finite and >= 0"):
        check_cutouts(good.assign(variance=[-good["variance"].iat[0]]))
    with pytest.raises(InputError, match="pixelScale"):
        check_cutouts(good.assign(pixelScale=0.0))


def test_a_night_measures_the_trails_of_its_cutouts(tmp_path):
    """``run_night(..., cutouts=...)``: the night's DIASources carry the measured trails, the
    association is the one without them (slow main-belt objects), and a broken cutout table is
    refused before anything is written."""
    from astropy.time import Time

    from sso.cadence import night_of, visit_midpoints
    from sso.night import run_night

    center = opposition_radec(61000.0)
    visits = synthetic_cadence(3, nights=1, start_mjd=61000.0, center=center, fields_ra=1,
                               fields_dec=1)
    orbits, _ = field_population({"mba": 80}, center, 1.5, 61000.0, seed=3)
    sim = simulate(orbits, visits, 3, noise_per_deg2=10.0, cutouts=True)
    date = Time(float(night_of(visit_midpoints(visits))[0]), format="mjd").iso[:10]
    plain = run_night(date, visits, sim.diasources, orbits, tmp_path / "a")
    measured = run_night(date, visits, sim.diasources, orbits, tmp_path / "b",
                         cutouts=sim.cutouts)
    table = pd.read_parquet(tmp_path / "b" / "nights" / date / "diasources.parquet")
    assert {"trailLengthErr", "trailDeltaChi2", "trailFlags"} <= set(table.columns)
    assert (table["trailNdata"] > 0).mean() > 0.95 and table["trailLength"].notna().mean() > 0.95
    assert measured["n_associated"] == plain["n_associated"] > 0
    with pytest.raises(InputError, match="lacks the column"):
        run_night(date, visits, sim.diasources, orbits, tmp_path / "c",
                  cutouts=sim.cutouts.drop(columns="image"))
    assert not (tmp_path / "c").exists()
