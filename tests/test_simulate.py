"""Survey simulator: populations, cadences, exact positions, noise statistics, determinism, CLI."""

import numpy as np
import pandas as pd
import pytest

from ephemerides import ephemeris, read_orbits
from ephemerides.photometry import BAND_MINUS_V, flux_njy
from sso.cadence import (
    VISIT_COLUMNS,
    night_of,
    read_visits,
    synthetic_cadence,
    visit_midpoints,
)
from sso.cli import main
from sso.population import field_population, synthetic_population
from sso.simulate import (
    DIASOURCE_COLUMNS,
    FADING_WIDTH_MAG,
    TRUTH_COLUMNS,
    simulate,
)

START = 61000.0


@pytest.fixture(scope="module")
def population():
    return synthetic_population(30000, seed=11, epoch_mjd_tdb=START + 1)


@pytest.fixture(scope="module")
def cadence():
    return synthetic_cadence(4, nights=2, start_mjd=START, fields_ra=4, fields_dec=3)


@pytest.fixture(scope="module")
def noiseless(population, cadence):
    return simulate(population, cadence, seed=1, noise=False, noise_per_deg2=0.0)


@pytest.fixture(scope="module")
def noisy(population, cadence):
    return simulate(population, cadence, seed=1, noise_per_deg2=200.0)


def test_population_schema_and_distributions():
    orbits = synthetic_population({"mba": 3000, "neo": 500, "trojan": 300, "tno": 300}, seed=2)
    assert orbits.equals(synthetic_population({"mba": 3000, "neo": 500, "trojan": 300,
                                               "tno": 300}, seed=2))
    # Hildas come from a child generator of their own: adding them leaves the others alone.
    with_hildas = synthetic_population({"mba": 3000, "neo": 500, "trojan": 300, "tno": 300,
                                        "hilda": 400}, seed=2)
    hilda = with_hildas[with_hildas["object_id"].str[0] == "H"]
    assert with_hildas[with_hildas["object_id"].str[0] != "H"].equals(orbits)
    assert len(hilda) == 400 and hilda["a_au"].between(3.7, 4.2).all()
    assert hilda["e"].lt(0.3).all() and 0.1 < hilda["e"].median() < 0.25
    assert hilda["inc_deg"].lt(25).all()
    assert not orbits.equals(synthetic_population({"mba": 3000, "neo": 500, "trojan": 300,
                                                   "tno": 300}, seed=3))
    assert orbits["object_id"].is_unique and set(orbits["format"]) == {"KEP"}
    cls = orbits["object_id"].str[0]
    q = orbits["a_au"] * (1 - orbits["e"])
    mba, neo, trojan, tno = (orbits[cls == c] for c in "MNJT")
    assert mba["a_au"].between(2.1, 3.3).all() and 0.05 < mba["e"].median() < 0.15
    assert (q[cls == "N"] <= 1.3 + 1e-12).all() and neo["e"].lt(1).all()
    assert trojan["a_au"].between(4.9, 5.5).all()
    assert (tno["a_au"] > 38).all() and (q[cls == "T"] > 25).all()
    # H power law dN/dH ∝ 10^(0.3 H) on [14, 20]: the mean of H is known in closed form.
    k = 0.3 * np.log(10)
    e14, e20 = np.exp(14 * k), np.exp(20 * k)
    expected = (20 * e20 - 14 * e14) / (e20 - e14) - 1 / k
    assert mba["H"].mean() == pytest.approx(expected, abs=4 * mba["H"].std() / np.sqrt(len(mba)))
    # Changing one class's count leaves the others' draws unchanged.
    other = synthetic_population({"mba": 10, "neo": 500, "trojan": 300, "tno": 300}, seed=2)
    assert np.array_equal(other.loc[other["object_id"].str[0] == "N", "a_au"], neo["a_au"])


def test_synthetic_cadence_pairs(cadence):
    assert list(cadence.columns) == list(VISIT_COLUMNS) and len(cadence) == 2 * 2 * 12
    assert cadence["observationId"].is_unique
    assert cadence.equals(synthetic_cadence(4, nights=2, start_mjd=START, fields_ra=4,
                                            fields_dec=3))
    night = night_of(cadence["observationStartMJD"])
    assert sorted(set(night)) == [61000, 61001]
    for _, visits in cadence.groupby([night, "fieldRA", "fieldDec"]):
        assert len(visits) == 2 and visits["filter"].nunique() == 1
        gap_min = np.diff(visits["observationStartMJD"].to_numpy())[0] * 1440
        assert 20 <= gap_min <= 40
    assert cadence["fiveSigmaDepth"].between(21, 26).all()
    assert np.allclose(visit_midpoints(cadence) - cadence["observationStartMJD"], 15 / 86400)


def test_noiseless_positions_match_ephemeris(noiseless, population):
    dia, truth = noiseless.diasources, noiseless.truth
    assert list(dia.columns) == list(DIASOURCE_COLUMNS)
    assert list(truth.columns) == list(TRUTH_COLUMNS)
    assert len(dia) > 100 and truth["object_id"].notna().all()
    orbits = population.set_index("object_id").loc[truth["object_id"]].reset_index()
    eph = ephemeris(orbits, dia["midpointMjdTai"].to_numpy(), observatory_code="X05",
                    time_scale="tai", method="nbody", pairs=True)
    # ephemeris sorts by (object_id, time); bring the simulation into the same order.
    order = np.lexsort((dia["midpointMjdTai"].to_numpy(), truth["object_id"].to_numpy()))
    d = dia.iloc[order]
    cos_dec = np.cos(np.deg2rad(eph["dec_deg"].to_numpy()))
    d_ra = ((d["ra"].to_numpy() - eph["ra_deg"].to_numpy() + 180) % 360 - 180) * cos_dec
    d_dec = d["dec"].to_numpy() - eph["dec_deg"].to_numpy()
    assert np.max(np.hypot(d_ra, d_dec)) * 3.6e6 <= 1.0  # mas
    band_offset = d["band"].map(BAND_MINUS_V).to_numpy()
    assert np.allclose(truth["mag_true"].to_numpy()[order], eph["v_mag"] + band_offset)
    # Exact fluxes, hard cut at the depth, trails from the ephemeris rates.
    visits = noiseless.visits.set_index("observationId").loc[d["visit"]]
    mag = -2.5 * np.log10(d["psfFlux"].to_numpy()) + 31.4
    assert np.all(mag <= visits["fiveSigmaDepth"].to_numpy() + 1e-9)
    rate = np.hypot(eph["ra_rate_deg_per_day"], eph["dec_rate_deg_per_day"]).to_numpy()
    assert np.allclose(d["trailLength"], rate * 30 / 86400 * 3600, rtol=1e-6)
    angle = np.rad2deg(np.arctan2(eph["ra_rate_deg_per_day"], eph["dec_rate_deg_per_day"]))
    assert np.allclose((d["trailAngle"].to_numpy() - angle + 180) % 360 - 180, 0, atol=1e-6)


def test_noise_statistics(noisy, cadence):
    dia, truth = noisy.diasources, noisy.truth
    real = truth["object_id"].notna().to_numpy()
    d, t = dia[real], truth[real]
    assert real.sum() > 800
    cos_dec = np.cos(np.deg2rad(t["dec_true_deg"].to_numpy()))
    z_ra = ((d["ra"] - t["ra_true_deg"] + 180) % 360 - 180) * cos_dec / d["raErr"]
    z_dec = (d["dec"] - t["dec_true_deg"]) / d["decErr"]
    z_flux = (d["psfFlux"] - flux_njy(t["mag_true"])) / d["psfFluxErr"]
    tolerance = 5 / np.sqrt(2 * real.sum())  # 5 sigma of a sample standard deviation
    for z in (z_ra, z_dec, z_flux):
        assert abs(np.std(z) - 1) < tolerance and abs(np.mean(z)) < 5 / np.sqrt(real.sum())
    # False detections: Poisson counts with mean density × area × visits, inside the field.
    n_false = int((~real).sum())
    area_deg2 = 2 * np.pi * (1 - np.cos(np.deg2rad(1.75))) * (180 / np.pi) ** 2
    expected = 200.0 * area_deg2 * len(cadence)
    assert abs(n_false - expected) < 5 * np.sqrt(expected)
    assert truth.loc[~real, "mag_true"].isna().all()
    assert (dia.loc[~real, "trailLength"] == 0).all()
    snr = dia.loc[~real, "psfFlux"] / dia.loc[~real, "psfFluxErr"]
    assert snr.min() >= 5.0


def test_detection_efficiency_is_logistic(noisy, population, cadence):
    # With depths 10 mag deeper and no noise, every object in the footprint is detected: these
    # are the candidates of the noisy run, which keeps each with probability
    # 1 / (1 + exp((m - m5) / w)).
    deep = cadence.assign(fiveSigmaDepth=cadence["fiveSigmaDepth"] + 10)
    everything = simulate(population, deep, seed=1, noise=False, noise_per_deg2=0.0)
    m5 = cadence.set_index("observationId").loc[everything.diasources["visit"], "fiveSigmaDepth"]
    x = everything.truth["mag_true"].to_numpy() - m5.to_numpy()
    p = 1 / (1 + np.exp(x / FADING_WIDTH_MAG))
    near = np.abs(x) < 0.4
    assert near.sum() > 50
    real = noisy.truth["object_id"].notna().to_numpy()
    m5_noisy = cadence.set_index("observationId").loc[noisy.diasources.loc[real, "visit"],
                                                      "fiveSigmaDepth"].to_numpy()
    x_noisy = noisy.truth.loc[real, "mag_true"].to_numpy() - m5_noisy
    detected = int((np.abs(x_noisy) < 0.4).sum())
    sigma = np.sqrt(np.sum(p[near] * (1 - p[near])))
    assert abs(detected - p[near].sum()) < 5 * sigma
    assert np.all(x_noisy < 1.0)


def test_determinism_and_order_independence(noisy, population, cadence, tmp_path):
    again = simulate(population, cadence.sample(frac=1.0, random_state=3), seed=1,
                     noise_per_deg2=200.0)
    pd.testing.assert_frame_equal(again.diasources, noisy.diasources)
    pd.testing.assert_frame_equal(again.truth, noisy.truth)
    for i, result in enumerate((noisy, again)):
        result.diasources.to_parquet(tmp_path / f"d{i}.parquet", index=False)
    assert (tmp_path / "d0.parquet").read_bytes() == (tmp_path / "d1.parquet").read_bytes()
    # One visit alone gives the same rows as within the full run.
    one = cadence.iloc[[5]]
    alone = simulate(population, one, seed=1, noise_per_deg2=200.0).diasources
    within = noisy.diasources[noisy.diasources["visit"] == one["observationId"].iloc[0]]
    pd.testing.assert_frame_equal(alone, within.reset_index(drop=True))
    other = simulate(population, one, seed=2, noise_per_deg2=200.0).diasources
    assert not np.array_equal(other["ra"].to_numpy()[:10], alone["ra"].to_numpy()[:10])
    assert noisy.diasources["diaSourceId"].is_unique
    assert noisy.diasources["diaSourceId"].dtype == np.int64


def test_real_cadence_and_lsst_footprint(shared_data):
    visits = read_visits(shared_data / "survey" / "lsst_baseline_v2.0_1yr_visits.parquet",
                         nights=1, region=(30.0, -10.0, 15.0))
    assert len(visits) > 10 and night_of(visits["observationStartMJD"]).min() >= 60217
    orbits = read_orbits(shared_data / "orbits" / "s3m_mba_1000_cart.csv")
    orbits["H"] = 15.0
    result = simulate(orbits, visits.iloc[:40], seed=3, noise_per_deg2=500.0, footprint="lsst",
                      detector_corners=shared_data / "survey" / "lsst_detector_corners.csv",
                      method="2body")
    dia, truth = result.diasources, result.truth
    assert dia["detector"].between(0, 188).all()
    false = truth["object_id"].isna().to_numpy()
    expected = 500.0 * 9.49 * 40
    assert abs(false.sum() - expected) < 5 * np.sqrt(expected)


def test_input_errors(population, cadence):
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \[.rotSkyPos.\]"):
        simulate(population, cadence.drop(columns="rotSkyPos"), seed=0)
    with pytest.raises(ValueError, match="noise_per_deg2"):
        simulate(population, cadence, seed=0, noise_per_deg2=-1)
    with pytest.raises(ValueError, match="seed"):
        simulate(population, cadence, seed=-3)
    with pytest.raises(ValueError, match="unknown population classes"):
        synthetic_population({"centaur": 3}, seed=0)


def test_cli_writes_three_tables(tmp_path, capsys):
    out = tmp_path / "new" / "run"  # created when missing
    status = main(["simulate", "--synthetic", "300", "--synthetic-cadence", "--nights", "1",
                   "--noise-per-deg2", "5", "--seed", "7", "--out", str(out)])
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == ["diasources.parquet", "orbits.parquet",
                                                     "truth.parquet", "visits.parquet"]
    assert len(read_orbits(out / "orbits.parquet")) == 300
    dia = pd.read_parquet(out / "diasources.parquet")
    truth = pd.read_parquet(out / "truth.parquet")
    assert list(dia.columns) == list(DIASOURCE_COLUMNS) and len(dia) == len(truth) > 0
    assert "night" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--synthetic", "0", "--synthetic-cadence"], "--synthetic"),
        (["--synthetic", "10", "--synthetic-cadence", "--nights", "0"], "--nights"),
        (["--orbits", "none.des", "--synthetic-cadence"], "none.des"),
        (["--synthetic", "10", "--visits", "none.parquet"], "none.parquet"),
        (["--synthetic", "10", "--synthetic-cadence", "--footprint", "lsst"], "detector_corners"),
    ],
)
def test_cli_bad_input(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    out.mkdir()
    assert main(["simulate", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert list(out.iterdir()) == []
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    assert main(["simulate", "--synthetic", "10", "--synthetic-cadence",
                 "--out", str(a_file)]) == 2


def test_field_population_places_every_object_in_the_box():
    """Re-phased objects of each class are all inside the box at the epoch (checked with the
    gnomonic projection written out here), keep their class's orbit shapes, and the same seed
    gives the same table."""
    center = (120.0, 20.0)
    orbits, drawn = field_population({"mba": 40, "neo": 10}, center, 1.0, 61000.0, seed=4)
    again, _ = field_population({"mba": 40, "neo": 10}, center, 1.0, 61000.0, seed=4)
    pd.testing.assert_frame_equal(orbits, again)
    assert drawn["mba"] >= 40 and len(orbits) == 50
    eph = ephemeris(orbits, [61000.0], observatory_code="X05", time_scale="tdb")
    ra, dec = np.deg2rad(eph["ra_deg"].to_numpy()), np.deg2rad(eph["dec_deg"].to_numpy())
    ra0, dec0 = np.deg2rad(center[0]), np.deg2rad(center[1])
    cos_c = np.sin(dec0) * np.sin(dec) + np.cos(dec0) * np.cos(dec) * np.cos(ra - ra0)
    x = np.cos(dec) * np.sin(ra - ra0) / cos_c
    y = (np.cos(dec0) * np.sin(dec) - np.sin(dec0) * np.cos(dec) * np.cos(ra - ra0)) / cos_c
    assert (cos_c > 0).all() and (np.maximum(np.abs(x), np.abs(y)) <= np.tan(np.deg2rad(1.0))).all()
    main_belt = orbits["object_id"].str.startswith("M")
    assert orbits.loc[main_belt, "a_au"].between(2.1, 3.3).all()
    assert (orbits.loc[~main_belt, "a_au"] * (1 - orbits.loc[~main_belt, "e"]) <= 1.3).all()
