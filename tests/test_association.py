"""Association of known objects with DIASources: a simulated night, optimal assignment against
greedy matching and a brute-force reference, the TAI time scale, trails, and the CLI."""

import itertools
import json
import re

import numpy as np
import pandas as pd
import pytest
from astropy.time import Time
from scipy.optimize import linear_sum_assignment

from ephemerides import NightlyCache, ephemeris, read_orbits
from ephemerides.photometry import BAND_MINUS_V, flux_njy
from ephemerides.provenance import read_provenance
from ephemerides.schemas import SSSOURCE, UNASSOCIATED
from ephemerides.sky import unit_vectors
from sso.association import (
    SSSOURCE_COLUMNS,
    associate,
    association_night,
    candidate_pairs,
    optimal_assignment,
)
from sso.cadence import night_of, synthetic_cadence, visit_midpoints
from sso.cli import main
from sso.footprint import gnomonic, inverse_gnomonic, lsst_footprint
from sso.population import synthetic_population
from sso.simulate import simulate

# Near the epoch of the shared NEA catalogue (K161D, 2016 Jan 13) so propagation is short.
START = 57400.6
EPOCH = 57401.0
ARCSEC = 1.0 / 3600.0


def _nea_orbits(shared_data):
    return read_orbits(shared_data / "orbits" / "nea_mpcorb_epoch_2016.txt")


@pytest.fixture(scope="module")
def night(request):
    """A simulated night: 24 visits (12 fields), synthetic main belt + real NEAs if present."""
    population = synthetic_population({"mba": 120000, "neo": 2000}, seed=5, epoch_mjd_tdb=EPOCH)
    try:
        nea = _nea_orbits(request.getfixturevalue("shared_data"))
    except pytest.skip.Exception:
        nea = population.iloc[:0]
    orbits = pd.concat([population, nea], ignore_index=True)
    visits = synthetic_cadence(7, nights=1, start_mjd=START, fields_ra=4, fields_dec=3)
    sim = simulate(orbits, visits, seed=3, noise_per_deg2=300.0)
    cache = NightlyCache.build(orbits, *association_night(sim.diasources, sim.visits))
    return orbits, sim, cache


def _true_offset_arcsec(dia, truth):
    ra, dec = dia["ra"].to_numpy(), dia["dec"].to_numpy()
    a = unit_vectors(ra, dec)
    b = unit_vectors(truth["ra_true_deg"].to_numpy(), truth["dec_true_deg"].to_numpy())
    return np.rad2deg(2 * np.arcsin(np.linalg.norm(a - b, axis=1) / 2)) * 3600


def test_simulated_night_recovers_known_objects(night):
    orbits, sim, cache = night
    result = associate(sim.diasources, sim.visits, cache)
    dia, truth = result.diasources, sim.truth
    assert list(dia["diaSourceId"]) == list(sim.diasources["diaSourceId"])
    assert dia["ssObjectId"].dtype == "Int64"
    names = pd.Series(orbits["object_id"].to_numpy(), index=orbits["ssObjectId"].to_numpy())
    associated = dia["ssObjectId"].notna().to_numpy()
    got = np.full(len(dia), None, dtype=object)
    got[associated] = names.loc[dia["ssObjectId"][associated].astype(np.int64)].to_numpy()
    real = truth["object_id"].notna().to_numpy()
    # A real detection scattered beyond the 1" radius from its true position cannot be
    # associated: it leaves the denominator (none expected: sigma <= 0.1" at SNR >= 5).
    reachable = real & (_true_offset_arcsec(sim.diasources, truth) <= 1.0)
    right = (got == truth["object_id"].to_numpy()) & reachable
    fraction_right = right.sum() / reachable.sum()
    fraction_noise = associated[~real].mean()
    synthetic = orbits["object_id"].str.fullmatch("[MN][0-9]{7}").to_numpy()
    n_nea = truth["object_id"].isin(orbits["object_id"][~synthetic]).sum()
    print(f"real NEA detections {n_nea}; real detections {real.sum()} "
          f"(reachable {reachable.sum()}): {fraction_right:.5f} right; "
          f"noise {(~real).sum()}: {fraction_noise:.2e} associated")
    assert reachable.sum() > 1000 and (~real).sum() > 10000
    assert fraction_right >= 0.999
    assert fraction_noise <= 0.001
    sss = result.sssources
    assert list(sss.columns) == list(SSSOURCE_COLUMNS) and len(sss) == associated.sum()
    assert (sss["ephOffset"] <= 1.0).all() and (sss["diaDistanceRank"] >= 1).all()
    assert np.allclose(np.hypot(sss["ephOffsetRa"], sss["ephOffsetDec"]), sss["ephOffset"],
                       rtol=1e-6, atol=1e-9)
    assert np.allclose(np.hypot(sss["ephOffsetAlongTrack"], sss["ephOffsetCrossTrack"]),
                       sss["ephOffset"], rtol=1e-6, atol=1e-9)
    # One association per object per visit.
    per_visit = dia.loc[associated, ["visit", "ssObjectId"]]
    assert not per_visit.duplicated().any()
    counts = result.visit_counts
    assert counts["n_diasources"].sum() == len(dia) and len(counts) == len(sim.visits)
    assert counts["n_associated"].sum() == len(sss)
    assert counts["n_unassociated_objects"].sum() == len(result.unassociated_ssobjects)
    # Unassociated objects are predicted on the footprint and not associated in that visit.
    missed = result.unassociated_ssobjects
    assert (missed["detector"] >= 0).all()
    pairs = set(zip(per_visit["visit"], per_visit["ssObjectId"].astype(np.int64), strict=True))
    assert not pairs & set(zip(missed["visit"], missed["ssObjectId"], strict=True))


def _greedy(pair_object, pair_source, cost):
    """Nearest-neighbour matching: each object, in order, takes its nearest free source."""
    taken, chosen = set(), []
    for obj in np.unique(pair_object):
        mine = np.flatnonzero(pair_object == obj)
        for k in mine[np.argsort(cost[mine])]:
            if pair_source[k] not in taken:
                taken.add(pair_source[k])
                chosen.append(k)
                break
    return np.array(chosen)


def test_crowded_field_optimal_beats_greedy():
    # Object A: its nearest source is s0, which is B's only source; A also reaches s1.
    pair_object = np.array([0, 0, 1])
    pair_source = np.array([0, 1, 0])
    cost = np.array([0.3, 0.6, 0.5])
    greedy = _greedy(pair_object, pair_source, cost)
    assert list(greedy) == [0]  # B is left without its source
    assert list(optimal_assignment(pair_object, pair_source, cost)) == [1, 2]


def _separation_arcsec(a, b):
    """Angle between unit vectors (arcsec) as atan2(|a x b|, a . b), exact at tiny angles."""
    sine = np.linalg.norm(np.cross(a, b), axis=-1)
    return np.rad2deg(np.arctan2(sine, np.sum(a * b, axis=-1))) * 3600


def _brute_force(pred_ra, pred_dec, radius_deg, src_ra, src_dec):
    """All pairs by explicit angular distance, then the dense optimal assignment."""
    a, b = unit_vectors(pred_ra, pred_dec), unit_vectors(src_ra, src_dec)
    separation = _separation_arcsec(a[:, None, :], b[None, :, :])
    ok = separation <= radius_deg[:, None] * 3600 * (1 + 1e-9)
    absent = separation[ok].sum() + 1
    rows, cols = linear_sum_assignment(np.where(ok, separation, absent))
    return {(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if ok[r, c]}, ok.sum()


@pytest.mark.parametrize("centre", [(0.0, 0.0), (359.9995, 20.0), (123.0, 89.9995),
                                    (10.0, -89.9997)])
def test_matches_brute_force_reference(centre):
    rng = np.random.default_rng(int(centre[0] * 10 + centre[1] + 500))
    for _ in range(5):
        n_pred, n_src = 60, 80
        # Crowded: 60 predictions and 80 sources within ~3" of the centre, radius 1".
        xi, eta = rng.uniform(-3, 3, (2, n_pred)) * np.deg2rad(ARCSEC)
        pred_ra, pred_dec = inverse_gnomonic(xi, eta, *centre)
        xi, eta = rng.uniform(-3, 3, (2, n_src)) * np.deg2rad(ARCSEC)
        src_ra, src_dec = inverse_gnomonic(xi, eta, *centre)
        radius = rng.uniform(0.5, 1.0, n_pred) * ARCSEC
        p, s, sep = candidate_pairs(pred_ra, pred_dec, radius, unit_vectors(src_ra, src_dec))
        reference, n_pairs = _brute_force(pred_ra, pred_dec, radius, src_ra, src_dec)
        assert p.size == n_pairs
        chosen = optimal_assignment(p, s, sep)
        assert len(chosen) == len(reference)
        total = sep[chosen].sum()
        a, b = unit_vectors(pred_ra, pred_dec), unit_vectors(src_ra, src_dec)
        ref_total = sum(_separation_arcsec(a[r], b[c]) for r, c in reference)
        assert total == pytest.approx(ref_total, abs=1e-6)
        assert len(set(p[chosen])) == len(set(s[chosen])) == len(chosen)


def test_optimal_assignment_exhaustive_small_graphs():
    rng = np.random.default_rng(1)
    for _ in range(200):
        n_obj, n_src = rng.integers(1, 5, 2)
        edges = [(i, j) for i, j in itertools.product(range(n_obj), range(n_src))
                 if rng.uniform() < 0.5]
        if not edges:
            continue
        obj, src = np.array(edges).T
        cost = rng.uniform(0, 1, obj.size)
        best = (0, 0.0)
        for size in range(1, len(edges) + 1):
            for subset in itertools.combinations(range(len(edges)), size):
                if len(set(obj[list(subset)])) == len(set(src[list(subset)])) == size:
                    total = cost[list(subset)].sum()
                    if size > best[0] or (size == best[0] and total < best[1]):
                        best = (size, total)
        chosen = optimal_assignment(obj, src, cost)
        assert len(chosen) == best[0]
        assert cost[chosen].sum() == pytest.approx(best[1])


def _one_visit(ra_deg, dec_deg, mjd_tai):
    """A one-visit table whose exposure midpoint is ``mjd_tai``, centred near a position."""
    return pd.DataFrame({
        "observationId": [7], "observationStartMJD": [mjd_tai - 15 / 86400],
        "visitTime": [34.0], "visitExposureTime": [30.0], "filter": ["r"],
        "seeingFwhmGeom": [0.7], "seeingFwhmEff": [0.8], "fiveSigmaDepth": [24.5],
        "fieldRA": [(ra_deg + 0.3) % 360], "fieldDec": [dec_deg - 0.2], "rotSkyPos": [0.0],
    })


def _one_source(ra_deg, dec_deg, mjd_tai, trail_length=0.0, trail_angle=np.nan):
    return pd.DataFrame({
        "diaSourceId": [1], "visit": [7], "detector": [0], "midpointMjdTai": [mjd_tai],
        "ra": [ra_deg], "dec": [dec_deg], "raErr": [1e-5], "decErr": [1e-5],
        "psfFlux": [1e4], "psfFluxErr": [100.0], "band": ["r"],
        "trailLength": [trail_length], "trailAngle": [trail_angle],
    })


@pytest.fixture(scope="module")
def twins():
    """Two main-belt objects on the same orbit ~1" apart on the sky, their cache and
    predictions at the visit midpoint (tangent-plane offset of B from A in radians)."""
    orbits = synthetic_population({"mba": 2}, seed=9, epoch_mjd_tdb=EPOCH)
    for name in ("a_au", "e", "inc_deg", "node_deg", "argperi_deg", "mean_anomaly_deg"):
        orbits.loc[1, name] = orbits.loc[0, name]
    orbits.loc[1, "mean_anomaly_deg"] += 1.5e-4
    orbits["H"] = 15.0
    t = START + 0.2
    cache = NightlyCache.build(orbits, t - 0.05, t + 0.05)
    eph = ephemeris(orbits, [t], time_scale="tai", method="2body")
    pred = cache.query(eph["ra_deg"].iloc[0], eph["dec_deg"].iloc[0], 0.1, t)
    a, b = pred.iloc[0], pred.iloc[1]
    xi, eta, _ = gnomonic(b["ra_deg"], b["dec_deg"], a["ra_deg"], a["dec_deg"])
    return cache, a, b, np.array([xi, eta]), t


def test_crowded_field_end_to_end(twins):
    cache, a, b, offset, t = twins
    d_arcsec = np.rad2deg(np.hypot(*offset)) * 3600
    assert 0.3 < d_arcsec < 5
    # s0 at 0.4 d from A towards B (0.6 d from B), s1 at 0.7 d from A away from B (1.7 d from
    # B); radius d: greedy gives s0 to A and nothing to B; optimal gives s1 to A, s0 to B.
    s0 = inverse_gnomonic(*(0.4 * offset), a["ra_deg"], a["dec_deg"])
    s1 = inverse_gnomonic(*(-0.7 * offset), a["ra_deg"], a["dec_deg"])
    sources = pd.concat([_one_source(*s0, t), _one_source(*s1, t).assign(diaSourceId=2)],
                        ignore_index=True)
    visits = _one_visit(a["ra_deg"], a["dec_deg"], t)
    result = associate(sources, visits, cache, radius_arcsec=d_arcsec)
    assert list(result.diasources["ssObjectId"]) == [b["ssObjectId"], a["ssObjectId"]]
    sss = result.sssources.set_index("diaSourceId")
    assert sss.loc[1, "ephOffset"] == pytest.approx(0.6 * d_arcsec, rel=1e-6)
    assert sss.loc[2, "ephOffset"] == pytest.approx(0.7 * d_arcsec, rel=1e-6)
    assert sss.loc[2, "diaDistanceRank"] == 2 and sss.loc[1, "diaDistanceRank"] == 1
    # Along-track: s1 lies 0.7 d behind or ahead of A along the motion (B leads on the orbit).
    assert abs(sss.loc[2, "ephOffsetAlongTrack"]) == pytest.approx(0.7 * d_arcsec, rel=0.05)
    assert result.unassociated_ssobjects.empty
    # A per-object uncertainty widens B's radius enough to reach s1 too: still one-to-one.
    wide = associate(sources, visits, cache, radius_arcsec=d_arcsec,
                     uncertainty_arcsec={b["ssObjectId"]: 2 * d_arcsec})
    assert sorted(wide.diasources["ssObjectId"]) == sorted([a["ssObjectId"], b["ssObjectId"]])


@pytest.mark.parametrize("object_inside", [True, False])
def test_field_edge(twins, object_inside):
    """Predicted just outside and detected just inside the circle, and the reverse, associate;
    only an object predicted inside is reported unassociated when nothing matches."""
    cache, a, _, offset, t = twins
    # Work along w, perpendicular to the direction of the twin B, so that B stays farther.
    w = np.array([-offset[1], offset[0]]) / np.hypot(*offset)
    edge = 1.75 + (-0.3 if object_inside else 0.5) / 3600
    # Boresight ``edge`` degrees from A along -w: +w points out of the field.
    centre = inverse_gnomonic(*(-np.tan(np.deg2rad(edge)) * w), a["ra_deg"], a["dec_deg"])
    visits = _one_visit(a["ra_deg"], a["dec_deg"], t).assign(fieldRA=centre[0],
                                                             fieldDec=centre[1])
    # The source 0.8" from A, across the edge (outwards or inwards).
    step = np.deg2rad(0.8 / 3600) * (1 if object_inside else -1)
    source = _one_source(*inverse_gnomonic(*(step * w), a["ra_deg"], a["dec_deg"]), t)
    result = associate(source, visits, cache)
    assert result.diasources["ssObjectId"].iloc[0] == a["ssObjectId"]
    far = source.assign(dec=source["dec"] + 0.01)
    missed = associate(far, visits, cache).unassociated_ssobjects
    assert (a["ssObjectId"] in set(missed["ssObjectId"])) == object_inside


def test_magnitude_window(twins):
    cache, a, _, _, t = twins
    visits = _one_visit(a["ra_deg"], a["dec_deg"], t)
    predicted = a["v_mag"] + BAND_MINUS_V["r"]
    source = _one_source(a["ra_deg"], a["dec_deg"], t).assign(psfFlux=flux_njy(predicted + 0.2))
    assert len(associate(source, visits, cache).sssources) == 1
    assert len(associate(source, visits, cache, magnitude_window=0.3).sssources) == 1
    assert len(associate(source, visits, cache, magnitude_window=0.1).sssources) == 0
    # An explicit V limit brighter than the object: still associated when detected, but not
    # expected, so not reported when undetected.
    far = source.assign(dec=source["dec"] + 0.01)
    assert len(associate(source, visits, cache, magnitude_limit=a["v_mag"] - 1).sssources) == 1
    missed = associate(far, visits, cache, magnitude_limit=a["v_mag"] - 1)
    assert a["ssObjectId"] not in set(missed.unassociated_ssobjects["ssObjectId"])
    missed = associate(far, visits, cache, magnitude_limit=a["v_mag"] + 1)
    assert a["ssObjectId"] in set(missed.unassociated_ssobjects["ssObjectId"])


@pytest.fixture(scope="module")
def fast_mover(shared_data):
    """The real NEA moving closest to 10 deg/day on the test night, its one-object cache and
    its prediction (cache row) at the visit midpoint."""
    nea = _nea_orbits(shared_data)
    t = START + 0.2
    eph = ephemeris(nea, [t], time_scale="tai", method="2body")
    rate = np.hypot(eph["ra_rate_deg_per_day"], eph["dec_rate_deg_per_day"]).to_numpy()
    k = int(np.nanargmin(np.abs(rate - 10.0)))
    orbit = nea[nea["object_id"] == eph["object_id"].iloc[k]].reset_index(drop=True)
    cache = NightlyCache.build(orbit, t - 0.05, t + 0.05)
    prediction = cache.query(eph["ra_deg"].iloc[k], eph["dec_deg"].iloc[k], 1.0, t).iloc[0]
    return cache, prediction, t


def test_tai_time_scale_is_honoured(fast_mover):
    cache, pred, t = fast_mover
    rate = np.hypot(pred["ra_rate_deg_per_day"], pred["dec_rate_deg_per_day"])
    assert 5.0 < rate < 20.0
    visits = _one_visit(pred["ra_deg"], pred["dec_deg"], t)
    source = _one_source(pred["ra_deg"], pred["dec_deg"], t)
    hit = associate(source, visits, cache, trailed_min_arcsec=None)
    assert hit.diasources["ssObjectId"].iloc[0] == pred["ssObjectId"]
    assert hit.sssources["ephOffset"].iloc[0] < 0.01
    # The same detection stamped 37 s (TAI - UTC) later: predicted ~15" away.
    shifted = source.assign(midpointMjdTai=t + 37 / 86400)
    miss = associate(shifted, visits, cache, trailed_min_arcsec=None)
    assert miss.diasources["ssObjectId"].isna().all() and len(miss.sssources) == 0


def test_trails_consistent_and_inconsistent(fast_mover):
    cache, pred, t = fast_mover
    rate = np.hypot(pred["ra_rate_deg_per_day"], pred["dec_rate_deg_per_day"])
    length = rate * 30 / 86400 * 3600
    angle = np.rad2deg(np.arctan2(pred["ra_rate_deg_per_day"], pred["dec_rate_deg_per_day"]))
    visits = _one_visit(pred["ra_deg"], pred["dec_deg"], t)

    def associated(trail_length, trail_angle):
        source = _one_source(pred["ra_deg"], pred["dec_deg"], t, trail_length, trail_angle)
        return len(associate(source, visits, cache).sssources) == 1

    assert associated(length, angle % 360)
    assert associated(length, (angle + 180) % 360)  # a trail has no head
    assert associated(length + 0.5, (angle + 5) % 360)
    assert not associated(length, (angle + 45) % 360)
    assert not associated(2 * length, angle % 360)
    assert not associated(length, np.nan)  # trailed but no angle: cannot be checked


def test_input_errors(fast_mover):
    cache, pred, t = fast_mover
    visits = _one_visit(pred["ra_deg"], pred["dec_deg"], t)
    source = _one_source(pred["ra_deg"], pred["dec_deg"], t)
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['ra'\]"):
        associate(source.drop(columns="ra"), visits, cache)
    with pytest.raises(ValueError, match="NaN"):
        associate(source.assign(dec=np.nan), visits, cache)
    with pytest.raises(ValueError, match="outside the cached night"):
        associate(source.assign(midpointMjdTai=t + 1), visits, cache)
    with pytest.raises(ValueError, match="missing from the visit table"):
        associate(source.assign(visit=8), visits, cache)
    with pytest.raises(ValueError, match="observatory"):
        associate(source, visits, cache, observatory_code="I41")


def _simulated_nights(folder, n_orbits: int, nights: int, seed: int):
    """Simulated nights on disk: orbits (CSV), visits and DIASources (Parquet)."""
    orbits = synthetic_population(n_orbits, seed=seed, epoch_mjd_tdb=EPOCH)
    visits = synthetic_cadence(2, nights=nights, start_mjd=START, fields_ra=2, fields_dec=1)
    sim = simulate(orbits, visits, seed=seed - 4, noise_per_deg2=50.0)
    orbits.to_csv(folder / "orbits.csv", index=False)
    sim.visits.to_parquet(folder / "visits.parquet")
    sim.diasources.to_parquet(folder / "diasources.parquet")
    return folder, sim, orbits


@pytest.fixture(scope="module")
def small_night(tmp_path_factory):
    """A small simulated night on disk."""
    folder, sim, _ = _simulated_nights(tmp_path_factory.mktemp("night"), 8000, 1, 8)
    return folder, sim


def _files(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_orbits_or_cache_give_the_same_result(small_night):
    folder, sim = small_night
    orbits = pd.read_csv(folder / "orbits.csv")
    from_orbits = associate(sim.diasources, sim.visits, orbits)
    cache = NightlyCache.build(orbits, *association_night(sim.diasources, sim.visits))
    from_cache = associate(sim.diasources, sim.visits, cache)
    pd.testing.assert_frame_equal(from_orbits.sssources, from_cache.sssources)
    pd.testing.assert_frame_equal(from_orbits.visit_counts, from_cache.visit_counts)
    # Visit and DIASource order do not matter.
    shuffled = associate(sim.diasources.sample(frac=1, random_state=1),
                         sim.visits.iloc[::-1], cache)
    pd.testing.assert_frame_equal(shuffled.sssources, from_cache.sssources)


def test_cli_writes_identical_files_and_reuses_the_cache(small_night, tmp_path, capsys):
    folder, sim = small_night
    args = ["associate", "--visits", str(folder / "visits.parquet"),
            "--diasources", str(folder / "diasources.parquet"),
            "--orbits", str(folder / "orbits.csv")]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert re.search(r"^sso associate: association: (\d+)/\1 visits$", capsys.readouterr().err,
                     re.MULTILINE)  # progress in a log: a line per tenth, ending with all
    first = _files(tmp_path / "a")
    assert set(first) == {"cache/cache.json", "cache/part-00000.parquet", "diasources.parquet",
                          "sssources.parquet", "unassociated_ssobjects.parquet", "summary.json"}
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert _files(tmp_path / "a") == first
    summary = json.loads(first["summary.json"])
    sss = pd.read_parquet(tmp_path / "a" / "sssources.parquet")
    assert summary["n_associated"] == len(sss) > 0
    # The associations follow their declared schema: columns, order, dtypes and ranges.
    assert list(sss.columns) == [c.name for c in SSSOURCE.columns]
    pd.testing.assert_frame_equal(SSSOURCE.check(sss), sss)
    unseen = pd.read_parquet(tmp_path / "a" / "unassociated_ssobjects.parquet")
    assert list(unseen.columns) == [c.name for c in UNASSOCIATED.columns]
    pd.testing.assert_frame_equal(UNASSOCIATED.check(unseen), unseen)
    assert summary["n_diasources"] == len(sim.diasources)
    # Reusing the saved cache, with the DIASources given as a folder, gives the same tables.
    assert main(["associate", "--visits", str(folder / "visits.parquet"), "--diasources",
                 str(folder), "--cache", str(tmp_path / "a" / "cache"),
                 "--out", str(tmp_path / "b")]) == 0
    for name in ("diasources.parquet", "sssources.parquet", "unassociated_ssobjects.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "b" / name),
                                      pd.read_parquet(tmp_path / "a" / name))
    # Their provenance names what each run read.
    inputs = read_provenance(tmp_path / "b" / "sssources.parquet")["inputs"]
    assert set(inputs) == {"visits", "diasources", "cache"}
    assert inputs["diasources"]["file"] == folder.name
    assert set(read_provenance(tmp_path / "a" / "sssources.parquet")["inputs"]) == {
        "visits", "diasources", "orbits"}


def test_cli_bad_input_writes_nothing(small_night, tmp_path, capsys):
    folder, sim = small_night
    bad = tmp_path / "bad"
    bad.mkdir()
    sim.diasources.drop(columns="dec").to_parquet(bad / "no_dec.parquet")
    sim.diasources.assign(ra=np.nan).to_parquet(bad / "nan.parquet")
    sim.diasources.assign(midpointMjdTai=sim.diasources["midpointMjdTai"] + 3).to_parquet(
        bad / "late.parquet")
    cache_args = ["--orbits", str(folder / "orbits.csv")]
    cases = [
        ("no_dec.parquet", cache_args, "lacks the column"),
        ("nan.parquet", cache_args, "NaN"),
        ("late.parquet", cache_args, "night"),
        ("../bad/nan.parquet", ["--orbits", str(folder / "missing.csv")], "NaN"),
    ]
    for name, known, message in cases:
        out = tmp_path / f"out-{len(message)}"
        code = main(["associate", "--visits", str(folder / "visits.parquet"),
                     "--diasources", str(bad / name), *known, "--out", str(out)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and message in err[0], err
        assert not out.exists()
    out = tmp_path / "observatory"
    code = main(["associate", "--visits", str(folder / "visits.parquet"), "--diasources",
                 str(folder / "diasources.parquet"), *cache_args, "--observatory", "ZZZ",
                 "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "ZZZ" in err[-1] and not out.exists()


def test_source_in_focal_plane_gap_is_eligible(twins, shared_data):
    """An object predicted in a gap between LSST detectors is associated with a detection there,
    and not reported unassociated when undetected (it could not have been seen)."""
    cache, a, _, _, t = twins
    corners = shared_data / "survey" / "lsst_detector_corners.csv"
    footprint = lsst_footprint(corners)
    rng = np.random.default_rng(2)
    visits = None
    for xi, eta in rng.uniform(-0.02, 0.02, (20000, 2)):
        # Boresight such that A sits at (xi, eta) of the field, then check A is in a gap.
        centre = inverse_gnomonic(-xi, -eta, a["ra_deg"], a["dec_deg"])
        trial = _one_visit(0, 0, t).assign(fieldRA=centre[0], fieldDec=centre[1])
        row = trial.iloc[0]
        if (np.hypot(xi, eta) < 0.5 * np.deg2rad(footprint.radius_deg)
                and footprint.detector_of(a["ra_deg"], a["dec_deg"], row) == -1):
            visits = trial
            break
    assert visits is not None
    source = _one_source(a["ra_deg"], a["dec_deg"], t)
    result = associate(source, visits, cache, footprint=footprint)
    assert result.diasources["ssObjectId"].iloc[0] == a["ssObjectId"]
    far = associate(source.assign(dec=source["dec"] + 0.01), visits, cache, footprint="lsst",
                    detector_corners=corners)
    assert a["ssObjectId"] not in set(far.unassociated_ssobjects["ssObjectId"])


def test_cli_night_selects_one_night_of_a_longer_table(small_night, tmp_path, capsys):
    folder, sim = small_night
    night = int(np.floor(sim.diasources["midpointMjdTai"].min() - 0.5))
    later = sim.diasources.assign(midpointMjdTai=sim.diasources["midpointMjdTai"] + 1.0,
                                  diaSourceId=sim.diasources["diaSourceId"] + 10**12)
    two_nights = tmp_path / "two_nights.parquet"
    pd.concat([sim.diasources, later], ignore_index=True).to_parquet(two_nights)
    args = ["associate", "--visits", str(folder / "visits.parquet"), "--diasources",
            str(two_nights), "--orbits", str(folder / "orbits.csv")]
    # Without --night the two nights are refused ...
    assert main([*args, "--out", str(tmp_path / "x")]) == 2
    assert "night" in capsys.readouterr().err
    # ... with it, exactly the first night's sources are associated, as from its own table.
    date = Time(night, format="mjd", scale="utc").strftime("%Y-%m-%d")
    assert main([*args, "--night", date, "--out", str(tmp_path / "one")]) == 0
    assert main(["associate", "--visits", str(folder / "visits.parquet"), "--diasources",
                 str(folder / "diasources.parquet"), "--orbits", str(folder / "orbits.csv"),
                 "--out", str(tmp_path / "alone")]) == 0
    for name in ("diasources.parquet", "sssources.parquet"):  # (their provenance differs)
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "one" / name),
                                      pd.read_parquet(tmp_path / "alone" / name))
    assert main([*args, "--night", "1999-01-01", "--out", str(tmp_path / "none")]) == 2
    assert "no visit falls on the night(s) [51179]" in capsys.readouterr().err


def test_cli_night_without_diasources_is_associated_when_named(small_night, tmp_path, capsys):
    """A header-only DIASource file: refused without --night (no night to take the visits
    of), associated with it — every prediction unseen, as the library does."""
    folder, sim = small_night
    empty = tmp_path / "empty.csv"
    sim.diasources.head(0).to_csv(empty, index=False)
    args = ["associate", "--visits", str(folder / "visits.parquet"), "--diasources",
            str(empty), "--orbits", str(folder / "orbits.csv")]
    assert main([*args, "--out", str(tmp_path / "a")]) == 2
    assert "give --night=" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    date = Time(float(night_of(sim.diasources["midpointMjdTai"].to_numpy())[0]),
                format="mjd").iso[:10]
    assert main([*args, "--night", date, "--out", str(tmp_path / "b")]) == 0
    assert len(pd.read_parquet(tmp_path / "b" / "sssources.parquet")) == 0
    assert len(pd.read_parquet(tmp_path / "b" / "unassociated_ssobjects.parquet")) > 0


@pytest.fixture(scope="module")
def three_nights(tmp_path_factory):
    """Three simulated nights on disk."""
    return _simulated_nights(tmp_path_factory.mktemp("nights"), 6000, 3, 9)


def test_several_nights_give_exactly_the_per_night_associations(three_nights, tmp_path,
                                                                 capsys):
    """Archival use: three nights' DIASources (shuffled) with the orbit table in one call give,
    night by night, what one call per night gives; the command line writes the same tables,
    one cache per night."""
    folder, sim, orbits = three_nights
    nights = night_of(sim.diasources["midpointMjdTai"].to_numpy())
    assert np.unique(nights).size == 3
    shuffled = sim.diasources.sample(frac=1, random_state=2)
    together = associate(shuffled, sim.visits, orbits)
    visit_nights = night_of(visit_midpoints(sim.visits))
    for night in np.unique(nights):
        visits = sim.visits[visit_nights == night]
        alone = associate(sim.diasources[nights == night], visits, orbits)
        ids = alone.diasources["diaSourceId"]
        got = together.sssources[together.sssources["diaSourceId"].isin(ids)]
        pd.testing.assert_frame_equal(got.reset_index(drop=True), alone.sssources)
        mine = together.visit_counts["visit"].isin(visits["observationId"])
        pd.testing.assert_frame_equal(together.visit_counts[mine].reset_index(drop=True),
                                      alone.visit_counts.reset_index(drop=True))
        got = together.unassociated_ssobjects[
            together.unassociated_ssobjects["visit"].isin(visits["observationId"])]
        pd.testing.assert_frame_equal(got.reset_index(drop=True), alone.unassociated_ssobjects)
    # DIASources and visit counts in the input order.
    assert together.diasources["diaSourceId"].tolist() == shuffled["diaSourceId"].tolist()
    assert together.visit_counts["visit"].tolist() == sim.visits["observationId"].tolist()
    assert together.sssources["diaSourceId"].is_unique and len(together.sssources) > 0
    # The command line: the same tables, a cache per night, a summary naming the nights.
    out = tmp_path / "assoc"
    assert main(["associate", "--visits", str(folder / "visits.parquet"), "--diasources",
                 str(folder / "diasources.parquet"), "--orbits", str(folder / "orbits.csv"),
                 "--out", str(out)]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sssources.parquet"),
                                  together.sssources)
    summary = json.loads((out / "summary.json").read_text())
    dates = [Time(float(n), format="mjd").strftime("%Y-%m-%d") for n in np.unique(nights)]
    assert summary["nights"] == dates
    assert sorted(p.name for p in (out / "cache").iterdir()) == dates
    assert summary["n_associated"] == len(together.sssources)
    # One night's cache for three nights: refused before any work.
    assert main(["associate", "--visits", str(folder / "visits.parquet"), "--diasources",
                 str(folder / "diasources.parquet"), "--cache", str(out / "cache" / dates[0]),
                 "--out", str(tmp_path / "refused")]) == 2
    assert "span 3 nights and a cache holds one" in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()
