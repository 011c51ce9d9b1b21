"""``sso night`` over a simulated fortnight: the catalogue's objects are associated, the withheld
ones are discovered (purely, once each) and associated on later nights like catalogued ones;
a night run again reproduces its outputs; a night killed mid-way resumes to the same result."""

import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from astropy.time import Time

import linking
import sso.night
from ephemerides import ephemeris, propagate
from ephemerides.errors import InputError
from ephemerides.provenance import read_provenance
from linking import Observations
from linking.detections import prepare_detections
from sso.cadence import night_of, opposition_radec, synthetic_cadence, visit_midpoints
from sso.cli import main
from sso.night import NightSettings, run_night
from sso.population import field_population
from sso.simulate import simulate
from sso.state import StateInUseError, read_ledger

NIGHT_OUTPUTS = ("report.json", "diasources.parquet", "sssources.parquet",
                 "unassociated_ssobjects.parquet", "link/linkages.parquet",
                 "link/members.parquet", "link/orbits.csv", "link/astrometry.mpc",
                 "astrometry.mpc")
STATE_FILES = ("discovered.parquet", "claimed.parquet", "attributed.parquet",
               "orbit_updates.parquet", "identified.parquet")


# Catalogue objects whose catalogue orbit is off along its track (mean anomaly shifted by this
# many degrees: 55″ and 80″ on the sky), so that association at 1″ misses them and linking
# finds them again; the first is renamed to an MPC designation, the second keeps its
# simulation identifier (no MPC designation).
MISPLACED = {"M0000022": ("2020 AB1", 0.010), "M0000044": ("M0000044", -0.015)}
# A catalogue object given as an orbit to improve: fitted to 100 days of earlier observations.
IMPROVED = "M0000054"


def _earlier_orbit(orbit: pd.DataFrame, folder) -> pd.DataFrame:
    """``orbit`` fitted (N-body, with covariance) to 0.1″ pairs on 8 nights 200 to 106 days
    before the survey, written by :func:`linking.orbit_table` and read back as an orbit to
    improve (H from the truth: the pairs have no magnitudes)."""
    from linking.orbitdet import orbit_table

    t_tai = (61000.2 + np.array([-200, -193, -186, -150, -130, -120, -113, -106.0])[:, None]
             + [0.0, 0.5 / 24.0]).ravel()
    truth = ephemeris(orbit, t_tai, observatory_code="X05", time_scale="tai", method="nbody")
    rng = np.random.default_rng(5)
    dec = truth["dec_deg"].to_numpy() + rng.normal(0, 0.1, t_tai.size) / 3600.0
    ra = truth["ra_deg"].to_numpy() + rng.normal(0, 0.1, t_tai.size) / 3600.0 / np.cos(
        np.deg2rad(dec))
    frame = prepare_detections(pd.DataFrame({
        "diaSourceId": np.arange(t_tai.size), "midpointMjdTai": t_tai, "ra": ra, "dec": dec,
        "raErr": 0.1 / 3600.0, "decErr": 0.1 / 3600.0}), "X05")
    obs = Observations(frame["midpointMjdTai"], frame["ra"], frame["dec"], np.full(len(frame), 0.1),
                       frame[["observer_x_au", "observer_y_au", "observer_z_au"]].to_numpy(),
                       frame["night"].to_numpy())
    start = propagate(orbit, [60850.0], frame="equatorial", origin="sun")[
        list(sso.night.CART_COLUMNS)].to_numpy()[0]
    fit = linking.fit_orbit(obs, start * (1.0 + 1e-6), 60850.0, method="nbody")
    assert fit.status == "ok"
    path = folder / "improve.csv"
    orbit_table({orbit["object_id"].iat[0]: (fit, frame)}).assign(
        H=orbit["H"].to_numpy()).to_csv(path, index=False)
    return linking.read_fitted_orbits(path)


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    """14 nights (4 lost) of one 3°×3° field with 200 main-belt objects, half of them in the
    catalogue (two of them misplaced, :data:`MISPLACED`) and one in the orbits to improve;
    every night processed in order."""
    center = opposition_radec(61000.0)
    visits = synthetic_cadence(11, nights=14, start_mjd=61000.0, center=center, fields_ra=1,
                               fields_dec=1)
    nights = night_of(visit_midpoints(visits))
    visits = visits[~np.isin(nights, np.unique(nights)[[2, 5, 9, 12]])].reset_index(drop=True)
    orbits, _ = field_population({"mba": 200}, center, 1.5, 61007.0, seed=11)
    renamed = orbits["object_id"].map(lambda name: MISPLACED.get(name, (name,))[0])
    orbits = orbits.assign(object_id=renamed, ssObjectId=sso.night.ss_object_ids(renamed))
    sim = simulate(orbits, visits, 11, noise_per_deg2=50.0, footprint="circle")
    catalogue = orbits.iloc[::2].reset_index(drop=True)
    for name, shift in MISPLACED.values():
        catalogue.loc[catalogue["object_id"] == name, "mean_anomaly_deg"] += shift
    state = tmp_path_factory.mktemp("survey")
    improve = _earlier_orbit(orbits[orbits["object_id"] == IMPROVED].reset_index(drop=True),
                             state.parent)
    dates = [Time(float(n), format="mjd").iso[:10]
             for n in np.unique(night_of(visit_midpoints(visits)))]
    reports = [run_night(date, visits, sim.diasources, catalogue, state,
                         improve=improve) for date in dates]
    return sim, orbits, catalogue, visits, state, dates, reports, improve


def test_withheld_objects_are_discovered_once_and_associated_later(survey):
    sim, _, catalogue, _, state, dates, reports, _ = survey
    truth = sim.truth.set_index("diaSourceId")["object_id"]
    claimed = pd.read_parquet(state / "claimed.parquet")
    claimed["truth"] = claimed["diaSourceId"].map(truth).fillna("noise")
    per_object = claimed.groupby("object_id")["truth"]
    assert (per_object.nunique() == 1).all()  # every discovery is pure
    found = per_object.first()
    assert found.is_unique  # no object discovered twice
    assert not found.isin(set(catalogue["object_id"])).any()  # catalogued objects are associated
    # Completeness over the withheld objects that are findable in the simulation.
    observed = sim.diasources[["diaSourceId", "midpointMjdTai", "ra", "dec"]].merge(
        sim.truth[["diaSourceId", "object_id"]], on="diaSourceId")
    withheld = observed[~observed["object_id"].isin(set(catalogue["object_id"]))]
    findable = linking.findable_objects(withheld)
    findable_ids = set(findable.loc[findable["findable"], "object_id"])
    assert len(findable_ids) >= 60
    assert len(findable_ids & set(found)) >= 0.95 * len(findable_ids)
    # Discoveries are associated on later nights, correctly.
    later = [r["n_associated_with_earlier_discoveries"] for r in reports]
    assert later[0] == 0 and sum(later) > 200
    discovered = pd.read_parquet(state / "discovered.parquet")
    truth_of = dict(zip(sso.night.ss_object_ids(discovered["object_id"].to_numpy()),
                        discovered["object_id"].map(found), strict=True))
    right = wrong = 0
    for date in dates:
        sss = pd.read_parquet(state / "nights" / date / "sssources.parquet")
        mine = sss[sss["ssObjectId"].isin(set(truth_of))]
        hits = mine["diaSourceId"].map(truth).to_numpy() == mine["ssObjectId"].map(truth_of)
        right, wrong = right + int(hits.sum()), wrong + int((~hits).sum())
    assert right == sum(later) and wrong <= 0.01 * right
    # The night's report holds the counts.
    first = reports[0]
    assert first["n_associated"] > 0 and first["n_new_objects"] == 0
    assert sum(r["n_new_objects"] for r in reports) == len(found)


def test_attributed_detections_refit_the_discoveries_and_shrink_their_uncertainty(survey):
    """MOPS's attribution, precovery and orbit update: every detection attributed to a
    discovery (on a later night, or precovered from earlier ones when it is discovered) is
    that object's; ≥ 95 % of the discovered objects' earlier detections in the state are
    precovered; the state keeps the detections and the refitted orbits (schemas checked), and
    the predicted position uncertainty on the last night is at least 10× smaller than the
    discovery orbit's for ≥ 95 % of the objects seen on six nights or more."""
    from ephemerides.schemas import ATTRIBUTED, ORBIT_UPDATES
    from linking.orbitfit import TT_MINUS_TAI_DAYS, Observations, sky_covariance

    sim, _, _, _, state, _, reports, _ = survey
    truth = sim.truth.set_index("diaSourceId")["object_id"]
    attributed = ATTRIBUTED.check(pd.read_parquet(state / "attributed.parquet"))
    updates = ORBIT_UPDATES.check(pd.read_parquet(state / "orbit_updates.parquet"))
    claimed = pd.read_parquet(state / "claimed.parquet")
    true_object = claimed.assign(truth=claimed["diaSourceId"].map(truth)).groupby(
        "object_id")["truth"].first()
    # A tracked catalogue object (to improve, or identified) is its own truth.
    tracked = sorted(set(attributed["object_id"]) - set(true_object.index))
    assert tracked == sorted([IMPROVED, *(name for name, _ in MISPLACED.values())])
    by_truth = pd.Series(true_object.index, index=true_object.to_numpy())  # discoveries
    true_object = pd.concat([true_object, pd.Series(tracked, index=tracked)])
    assert len(attributed) == sum(r["n_associated_with_earlier_discoveries"]
                                  + r["n_associated_with_tracked_objects"]
                                  + r["n_identified_detections"]
                                  + r["n_precovered"] for r in reports)
    assert (attributed["diaSourceId"].map(truth)
            == attributed["object_id"].map(true_object)).all()
    assert len(updates) == sum(r.get("n_orbits_updated", 0) for r in reports) > 0
    last = float(sim.diasources["midpointMjdTai"].max())
    at = Observations([last], [0.0], [0.0], [1.0], sso.night.observer_states(
        "X05", [last + TT_MINUS_TAI_DAYS], origin="sun")[:, :3], [0])

    def major_arcsec(row):
        state_ = np.array([row[c] for c in sso.night.CART_COLUMNS])
        sky = sky_covariance(state_, np.asarray(row["covariance"]).reshape(6, 6),
                             row["epoch_mjd_tdb"], at)[0]
        return float(np.sqrt(np.linalg.eigvalsh(sky).max()))

    # Precovery: the discovered objects' detections of earlier nights that are in the state
    # (window files) but not in their discovery linkage are attached when they are discovered.
    discovered = pd.read_parquet(state / "discovered.parquet").set_index("object_id")
    window = pd.concat([pd.read_parquet(p) for p in sorted((state / "window").glob("*.parquet"))])
    window = window[~window["diaSourceId"].isin(set(claimed["diaSourceId"]))]
    window = window.assign(truth=window["diaSourceId"].map(truth),
                           night=night_of(window["midpointMjdTai"].to_numpy()))
    earlier = window[window["truth"].isin(by_truth.index)]
    earlier = earlier[earlier["night"].to_numpy() <= discovered.loc[
        by_truth.loc[earlier["truth"]].to_numpy(), "discovered_night"].to_numpy()]
    precovered = set(attributed["diaSourceId"]) & set(earlier["diaSourceId"])
    assert len(earlier) >= 5 and len(precovered) >= 0.95 * len(earlier)
    assert sum(r.get("n_precovered", 0) for r in reports) == len(precovered)
    latest = updates.sort_values("night").drop_duplicates("object_id", keep="last")
    latest = latest[latest["object_id"].isin(set(discovered.index))]
    well_seen = latest[latest["n_nights"] >= 6]
    assert len(well_seen) >= 30
    shrink = np.array([major_arcsec(discovered.loc[row.object_id]) / major_arcsec(row._asdict())
                       for row in well_seen.itertuples(index=False)])
    # 10× for all but an object discovered two nights before the end (six nights with its
    # precovered ones), whose discovery orbit already predicted the last night to 1″: 5.6×.
    assert (shrink >= 10.0).mean() >= 0.95 and shrink.min() >= 3.0


def test_a_night_run_again_reproduces_its_outputs(survey):
    sim, _, catalogue, visits, state, dates, _, improve = survey
    date = dates[-1]  # the state's last night (an earlier one needs --rewind)
    before = {name: (state / "nights" / date / name).read_bytes() for name in NIGHT_OUTPUTS}
    before.update({name: (state / name).read_bytes() for name in STATE_FILES})
    run_night(date, visits, sim.diasources, catalogue, state, improve=improve)
    after = {name: (state / "nights" / date / name).read_bytes() for name in NIGHT_OUTPUTS}
    after.update({name: (state / name).read_bytes() for name in STATE_FILES})
    assert after == before


def test_a_night_killed_while_linking_resumes_to_the_same_result(survey, tmp_path,
                                                               monkeypatch):
    sim, _, catalogue, visits, state, dates, reports, improve = survey
    # Rewound to before the last night with discoveries, which is then killed while linking.
    copy = tmp_path / "state"
    shutil.copytree(state, copy)
    last = max(date for date, report in zip(dates, reports, strict=True)
               if report["n_new_objects"] > 0)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sso.night, "run_link_job", killed)
    with pytest.raises(KeyboardInterrupt):
        run_night(last, visits, sim.diasources, catalogue, copy, rewind=True,
                  improve=improve)
    assert not (copy / "nights" / last / "report.json").exists()
    monkeypatch.undo()
    assert main(["night", "--date", last, "--visits", str(_saved(visits, tmp_path)),
                 "--diasources", str(_saved(sim.diasources, tmp_path)),
                 "--orbits", str(_saved(catalogue, tmp_path)),
                 "--improve", str(state.parent / "improve.csv"),
                 "--state-dir", str(copy), "--submitter", "A. Astronomer"]) == 0
    psv = (copy / "nights" / last / "link" / "astrometry.psv").read_text()
    assert "! name A. Astronomer" in psv
    # The same tables and reports; the Parquet files' provenance tells the command line's run
    # (its files and options) from the library's.
    for name in NIGHT_OUTPUTS:
        resumed, first = copy / "nights" / last / name, state / "nights" / last / name
        if name.endswith(".parquet"):
            pd.testing.assert_frame_equal(pd.read_parquet(resumed), pd.read_parquet(first))
            assert read_provenance(resumed)["command"] == "sso night"
            assert read_provenance(first)["command"] is None
        else:
            assert resumed.read_bytes() == first.read_bytes(), name
    for name in STATE_FILES:
        original = pd.read_parquet(state / name)
        night_column = "discovered_night" if "discovered_night" in original else "night"
        original = original[original[night_column] <= Time(last).mjd]
        pd.testing.assert_frame_equal(pd.read_parquet(copy / name),
                                      original.reset_index(drop=True))


def _snapshot(folder) -> dict:
    """Every file under ``folder`` (but the lock's record) and its bytes."""
    return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name != ".lock"}


def test_nights_out_of_order_are_refused_and_a_rewind_replays_to_the_same_state(survey,
                                                                                  tmp_path,
                                                                                  capsys):
    sim, _, catalogue, visits, state, dates, _, improve = survey
    copy = tmp_path / "state"
    shutil.copytree(state, copy)
    before = _snapshot(copy)
    with pytest.raises(ValueError, match=f"the night of {dates[-3]} comes before the last "
                       f"night in state_dir=.*, {dates[-1]}: nights run in order. Pass "
                       "rewind=True"):
        run_night(dates[-3], visits, sim.diasources, catalogue, copy)
    # The command line says it in its own words.
    assert main(["night", "--date", dates[-3], "--visits", str(_saved(visits, tmp_path)),
                 "--diasources", str(_saved(sim.diasources, tmp_path)),
                 "--orbits", str(_saved(catalogue, tmp_path)), "--state-dir", str(copy)]) == 2
    err = capsys.readouterr().err
    assert f"last night in --state-dir='{copy}', {dates[-1]}" in err
    assert "Pass --rewind to roll" in err
    assert _snapshot(copy) == before  # the refusals changed nothing
    # Rewound and run again in order: the state is the in-order run's, byte for byte.
    run_night(dates[-3], visits, sim.diasources, catalogue, copy, rewind=True,
              improve=improve)
    assert not (copy / "nights" / dates[-1]).exists()
    assert sorted(read_ledger(copy)) == [int(Time(d).mjd) for d in dates[:-2]]
    for date in dates[-2:]:
        run_night(date, visits, sim.diasources, catalogue, copy,
                  improve=improve)
    after = _snapshot(copy)
    changing = {"timings.json", "summary.txt"}  # wall-clock times
    assert {k for k in after if k.name not in changing} == {
        k for k in before if k.name not in changing}
    for key, data in before.items():
        if key.name not in changing and "cache" not in key.parts:
            assert after[key] == data, key


def test_a_locked_state_is_refused_at_once_and_a_dead_holders_lock_is_taken_over(
        survey, tmp_path, capsys):
    sim, _, catalogue, visits, state, dates, _, improve = survey
    copy = tmp_path / "state"
    shutil.copytree(state, copy)
    before = _snapshot(copy)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from sso.state import state_lock\n"
         "with state_lock(Path(sys.argv[1]), 'sso night --date 2099-01-01'):\n"
         "    print('held', flush=True); time.sleep(120)", str(copy)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StateInUseError, match=f"in use by process {holder.pid} on .* "
                           r"\(sso night --date 2099-01-01\) since 20"):
            run_night(dates[-1], visits, sim.diasources, catalogue, copy)
        assert main(["night", "--date", dates[-1], "--visits", str(_saved(visits, tmp_path)),
                     "--diasources", str(_saved(sim.diasources, tmp_path)),
                     "--orbits", str(_saved(catalogue, tmp_path)),
                     "--state-dir", str(copy)]) == 2
        assert f"--state-dir='{copy}' is in use by process {holder.pid}" in \
            capsys.readouterr().err
        assert _snapshot(copy) == before
    finally:
        holder.kill()  # as kill -9: the kernel releases its lock, its record stays
        holder.wait()
        holder.stdout.close()
    reports = []
    run_night(dates[-1], visits, sim.diasources, catalogue, copy, improve=improve,
              progress=reports.append)
    assert any(f"process {holder.pid} since" in report.message for report in reports)
    assert (copy / "claimed.parquet").read_bytes() == (state / "claimed.parquet").read_bytes()


def _saved(table: pd.DataFrame, folder) -> object:
    path = folder / f"{len(table)}_{id(table)}.parquet"
    table.to_parquet(path)
    return path


def test_night_errors_name_the_problem(survey, tmp_path, capsys):
    sim, _, catalogue, visits, _, _, _, _ = survey
    # A night without DIASources (lost to weather) is recorded as such.
    report = run_night("2024-01-01", visits, sim.diasources, catalogue, tmp_path / "s")
    assert (report["status"], report["n_diasources"], report["n_new_objects"]) == (
        "no DIASources", 0, 0)
    assert read_ledger(tmp_path / "s") == {int(Time("2024-01-01").mjd): {
        "date": "2024-01-01", "status": "no DIASources"}}
    with pytest.raises(ValueError, match="is not a date YYYY-MM-DD"):
        run_night("yesterday", visits, sim.diasources, catalogue, tmp_path / "s")
    with pytest.raises(ValueError, match="window_nights must be an integer >= 1"):
        run_night("2025-11-21", visits, sim.diasources, catalogue, tmp_path / "s",
                  NightSettings(window_nights=0))


def test_state_keeps_its_types_when_a_night_finds_nothing(tmp_path):
    """A night without new objects after one with some (its linking job writes empty tables,
    whose designation column pandas reads back as float): the state stays typed, keeps the
    earlier night's rows, and recording a night again gives the same bytes."""
    def linking_outputs(names, night_dir):
        linkages = pd.DataFrame({"designation": names, "x_au": 2.0, "y_au": 0.5, "z_au": 0.1,
                                 "vx_au_per_day": 0.001, "vy_au_per_day": 0.01,
                                 "vz_au_per_day": 0.0, "epoch_mjd_tdb": 61000.5, "H": 18.0,
                                 "covariance": [np.eye(6).ravel() * 1e-8] * len(names)})
        members = pd.DataFrame({"diaSourceId": np.arange(3 * len(names), dtype=np.int64),
                                "designation": np.repeat(names, 3)})
        night_dir.mkdir()
        linkages.to_parquet(night_dir / "linkages.parquet", index=False)
        members.to_parquet(night_dir / "members.parquet", index=False)
        return (pd.read_parquet(night_dir / "linkages.parquet"),
                pd.read_parquet(night_dir / "members.parquet"))

    state = tmp_path / "state"
    state.mkdir()
    found = sso.night._record_discoveries(state, 61000, *linking_outputs(
        ["S25W000", "S25W001"], tmp_path / "a"))
    assert list(found["object_id"]) == ["S25W000", "S25W001"]
    empty = linking_outputs([], tmp_path / "b")
    assert empty[0]["designation"].dtype == np.float64  # what the empty job's file gives
    assert len(sso.night._record_discoveries(state, 61001, *empty)) == 0
    files = {name: (state / name).read_bytes() for name in ("discovered.parquet",
                                                             "claimed.parquet")}
    sso.night._record_discoveries(state, 61001, *empty)
    assert {name: (state / name).read_bytes() for name in files} == files
    discovered = pd.read_parquet(state / "discovered.parquet")
    claimed = pd.read_parquet(state / "claimed.parquet")
    assert list(discovered["object_id"]) == ["S25W000", "S25W001"]
    assert discovered["x_au"].dtype == np.float64 and claimed["diaSourceId"].dtype == np.int64
    assert len(claimed) == 6 and set(claimed["discovered_night"]) == {61000}


def test_a_corrupted_state_is_named_not_used(survey, tmp_path):
    """A claimed.parquet holding a detection twice (what two concurrent runs used to leave) is
    refused against the state's schema, naming the file, and nothing is written."""
    sim, _, catalogue, visits, state, dates, _, _ = survey
    copy = tmp_path / "state"
    shutil.copytree(state, copy)
    claimed = pd.read_parquet(copy / "claimed.parquet")
    pd.concat([claimed, claimed.head(1)], ignore_index=True).to_parquet(copy / "claimed.parquet")
    before = _snapshot(copy)
    with pytest.raises(InputError, match=r"claimed.parquet: column 'diaSourceId' must be "
                       r"unique; 2 rows share"):
        run_night(dates[-1], visits, sim.diasources, catalogue, copy)
    assert _snapshot(copy) == before


def test_a_new_object_that_is_an_earlier_discovery_is_identified_with_it(survey, tmp_path):
    """Identification: detections of a discovery that association missed, linked again as a
    'new' object, join that discovery (joint fit keeping every detection) instead of becoming
    a second designation; another object's detections do not."""
    _, _, _, _, state, _, _, _ = survey
    copy = tmp_path / "state"
    shutil.copytree(state, copy)
    discovered = pd.read_parquet(copy / "discovered.parquet")
    attributed = pd.read_parquet(copy / "attributed.parquet")
    claimed = pd.read_parquet(copy / "claimed.parquet")
    later = attributed.assign(n=night_of(attributed["midpointMjdTai"].to_numpy()))
    later = later[later["object_id"].isin(set(discovered["object_id"]))]
    nights_seen = later.groupby("object_id")["n"].nunique().sort_index()
    first, other = nights_seen[nights_seen >= 3].index[:2]
    # The first object's later detections, as if association had missed them: in a window
    # file, linked tonight as 'S25WNEW'; the other's as 'S25WOTH'.
    missed = attributed[attributed["object_id"].isin([first, other])]
    missed.drop(columns=["object_id", "night"]).to_parquet(copy / "window" /
                                                           "night=99999.parquet")
    members = pd.DataFrame({"diaSourceId": missed["diaSourceId"].to_numpy(),
                            "designation": np.where(missed["object_id"] == first, "S25WNEW",
                                                    "S25WOTH")})
    linkages = pd.DataFrame({"designation": ["S25WNEW", "S25WOTH"]})
    only_first = discovered[discovered["object_id"] == first].reset_index(drop=True)
    kept = attributed[~attributed["diaSourceId"].isin(set(missed["diaSourceId"]))]
    settings = NightSettings()
    from ephemerides.schemas import DISCOVERED

    # No catalogue object predicted tonight.
    nowhere = (pd.DataFrame(columns=["object_id", "midpointMjdTai", "ephRa", "ephDec"]),
               survey[2], sso.night._empty(DISCOVERED))
    left, left_members, joined, refits, pairs = sso.night._identify(
        copy, 99999, linkages, members, only_first, claimed, kept,
        attributed.iloc[:0], settings, {}, nowhere)
    assert pairs[["object_id", "identified_as"]].values.tolist() == [["S25WNEW", first]]
    assert left["designation"].tolist() == ["S25WOTH"]
    assert set(left_members["designation"]) == {"S25WOTH"}
    assert set(joined["diaSourceId"]) == set(missed.loc[missed["object_id"] == first,
                                                        "diaSourceId"])
    assert (joined["object_id"] == first).all() and refits["object_id"].tolist() == [first]
    assert refits["n_detections"].iloc[0] == len(claimed[claimed["object_id"] == first]) \
        + int((attributed["object_id"] == first).sum())
    # The night's reports give the joined detections under the discovery's designation, as
    # observations of a known object (no discovery asterisk); the other new object stays new.
    night_dir = tmp_path / "night"
    night_dir.mkdir()
    sso.night._write_reports(night_dir, missed.drop(columns=["object_id", "night"]),
                             left_members.assign(linkage_id=0), joined, pairs, settings)
    lines = (night_dir / "astrometry.mpc").read_text().splitlines()
    theirs = [line for line in lines if line[5:12].strip() == first]
    assert len(theirs) == len(joined) and all(line[12] == " " for line in theirs)
    others = [line for line in lines if line[5:12].strip() == "S25WOTH"]
    assert len(others) == int((members["designation"] == "S25WOTH").sum())
    assert [line[12] for line in others].count("*") == 1
    assert len(lines) == len(theirs) + len(others)  # nothing under 'S25WNEW'
    rows = [line for line in (night_dir / "astrometry.psv").read_text().splitlines()
            if not line.startswith(("#", "!"))]
    assert sum(first in line for line in rows) == len(joined)


def test_a_new_object_that_is_a_misplaced_catalogue_object_is_identified_with_it(survey):
    """Identification with the catalogue: an object whose catalogue orbit is 55″ or 80″ off
    along its track is missed by association at 1″, linked as new, and identified with its
    catalogue orbit (not designated); from then on it is tracked: its detections attributed
    to it, its orbit refitted. The reports give its detections under its MPC designation, or
    under the temporary one where its name is not a designation; no discovery is any of the
    catalogue's objects."""
    sim, _, catalogue, _, state, dates, reports, _ = survey
    truth = sim.truth.set_index("diaSourceId")["object_id"]
    identified = pd.read_parquet(state / "identified.parquet")
    names = [name for name, _ in MISPLACED.values()]
    assert sorted(identified["identified_as"]) == sorted(names)
    assert {k: v for r in reports for k, v in r["identified"].items()} == dict(
        zip(identified["object_id"], identified["identified_as"], strict=True))
    claimed = pd.read_parquet(state / "claimed.parquet")
    assert not claimed["diaSourceId"].map(truth).isin(set(catalogue["object_id"])).any()
    discovered = pd.read_parquet(state / "discovered.parquet")
    assert not set(identified["object_id"]) & set(discovered["object_id"])
    attributed = pd.read_parquet(state / "attributed.parquet")
    updates = pd.read_parquet(state / "orbit_updates.parquet")
    for row in identified.itertuples(index=False):
        mine = attributed[attributed["object_id"] == row.identified_as]
        assert (mine["diaSourceId"].map(truth) == row.identified_as).all()
        # Every detection of it from the identification on is attributed (the misplaced
        # catalogue orbit no longer used), and its orbit was refitted on later nights.
        seen = sim.truth[sim.truth["object_id"] == row.identified_as]["diaSourceId"]
        times = sim.diasources.set_index("diaSourceId").loc[seen, "midpointMjdTai"]
        later = set(seen[night_of(times.to_numpy()) >= row.night])
        assert later and later <= set(mine["diaSourceId"])
        refits = updates[updates["object_id"] == row.identified_as]
        assert refits["night"].min() == row.night and refits["night"].max() > row.night
        # The identification night's report to submit.
        date = dates[[int(Time(d).mjd) for d in dates].index(row.night)]
        lines = (state / "nights" / date / "astrometry.mpc").read_text().splitlines()
        # '2020 AB1' packed; 'M0000044' is no MPC designation: the linkage's name.
        reported_as = "K20A01B" if row.identified_as == "2020 AB1" else row.object_id
        theirs = [line for line in lines if line[5:12].strip() == reported_as]
        joined = mine[mine["night"] == row.night]
        assert len(theirs) == len(joined) and all(line[12] == " " for line in theirs)


def test_an_orbit_to_improve_is_refitted_jointly_with_its_prior(survey):
    """An orbit given to improve (fitted to 100 days of observations half a year earlier, with
    covariance): every detection of it in the survey is attributed to it, and its refits are
    joint fits with the prior — the final orbit predicts the last night 100× better
    than the prior and better than the survey's detections alone, and lies within its own
    uncertainty of the truth (χ² of the state error, 6 degrees of freedom, < 22.5)."""
    sim, orbits, _, _, state, _, _, improve = survey
    truth = sim.truth.set_index("diaSourceId")["object_id"]
    attributed = pd.read_parquet(state / "attributed.parquet")
    mine = attributed[attributed["object_id"] == IMPROVED]
    seen = set(sim.truth.loc[sim.truth["object_id"] == IMPROVED, "diaSourceId"])
    assert set(mine["diaSourceId"]) == seen and (mine["diaSourceId"].map(truth)
                                                 == IMPROVED).all()
    updates = pd.read_parquet(state / "orbit_updates.parquet")
    final = updates[updates["object_id"] == IMPROVED].sort_values("night").iloc[-1]
    assert final["n_detections"] == len(seen)
    epoch = float(final["epoch_mjd_tdb"])
    assert epoch == improve["epoch_mjd_tdb"].iat[0]
    last = float(sim.diasources["midpointMjdTai"].max())
    prior = sso.night._equatorial_rows(improve, improve["covariance"])
    sigma_prior = sso.night.position_uncertainty_arcsec(prior, last, "X05")[0]
    sigma_final = sso.night.position_uncertainty_arcsec(final.to_frame().T, last, "X05")[0]
    assert sigma_final < sigma_prior / 100.0
    # The survey's detections alone, fitted without the prior.
    frame = mine.drop(columns=["object_id", "night"])
    alone, _ = sso.night._fit_detections(frame, final[list(sso.night.CART_COLUMNS)].to_numpy(
        np.float64), epoch, NightSettings())
    assert alone.status == "ok"
    alone_row = pd.Series({**dict(zip(sso.night.CART_COLUMNS, alone.state, strict=True)),
                           "epoch_mjd_tdb": epoch, "covariance": alone.covariance.ravel()})
    assert sigma_final < sso.night.position_uncertainty_arcsec(alone_row.to_frame().T, last,
                                                               "X05")[0]
    true_state = propagate(orbits[orbits["object_id"] == IMPROVED], [epoch], frame="equatorial",
                           origin="sun")[list(sso.night.CART_COLUMNS)].to_numpy()[0]
    error = final[list(sso.night.CART_COLUMNS)].to_numpy(np.float64) - true_state
    covariance = np.asarray(final["covariance"], np.float64).reshape(6, 6)
    assert error @ np.linalg.solve(covariance, error) < 22.5


def test_orbits_to_improve_are_checked_before_any_work(survey, tmp_path):
    sim, _, catalogue, visits, state, dates, _, improve = survey
    folder = tmp_path / "s"
    bad = improve.assign(covariance=[np.full(36, 1e-12)])
    with pytest.raises(InputError, match=r"improve, row 0 .*positive definite"):
        run_night(dates[0], visits, sim.diasources, catalogue, folder, improve=bad)
    with pytest.raises(InputError, match="more than one orbit"):
        run_night(dates[0], visits, sim.diasources, catalogue, folder,
                  improve=pd.concat([improve, improve], ignore_index=True))
    with pytest.raises(InputError, match="identify_radius_arcsec must be in"):
        run_night(dates[0], visits, sim.diasources, catalogue, folder,
                  NightSettings(identify_radius_arcsec=0.0))
    assert not folder.exists()
    # A file with part of a covariance is named with its missing columns.
    path = tmp_path / "part.csv"
    pd.read_csv(state.parent / "improve.csv").drop(columns="cov_vz_vz").to_csv(path)
    with pytest.raises(InputError, match=r"part.csv: covariance columns \['cov_vz_vz'\]"):
        linking.read_fitted_orbits(path)


def test_a_detection_the_refit_rejects_is_withdrawn_from_the_attribution(survey):
    """A detection associated with a discovery that its refit rejects (here a copy of one of
    its detections 3″ off: inside the association circle, 30σ from the orbit) is withdrawn —
    unassociated after all — and the refit keeps every other detection."""
    from ephemerides.schemas import DISCOVERED

    _, _, _, _, state, _, _, _ = survey
    discovered = pd.read_parquet(state / "discovered.parquet")
    attributed = pd.read_parquet(state / "attributed.parquet")
    claimed = pd.read_parquet(state / "claimed.parquet")
    mine = attributed[attributed["object_id"].isin(set(discovered["object_id"]))]
    last = mine.groupby("object_id")["night"].max()
    name = last.index[0]
    tonight = mine[(mine["object_id"] == name) & (mine["night"] == last.iloc[0])]
    fake = tonight.iloc[[0]].assign(diaSourceId=-1, dec=tonight["dec"].iloc[0] + 3.0 / 3600.0,
                                    midpointMjdTai=tonight["midpointMjdTai"].iloc[0] + 0.001)
    earlier = attributed[attributed["night"] < last.iloc[0]]
    orbits = sso.night.latest_orbits(
        discovered[discovered["object_id"] == name],
        pd.read_parquet(state / "orbit_updates.parquet").query(f"night < {last.iloc[0]}"))
    updated, withdrawn = sso.night._refit_orbits(
        state, int(last.iloc[0]), orbits.astype(DISCOVERED.dtypes), claimed, earlier,
        pd.concat([tonight, fake], ignore_index=True), NightSettings(), {})
    assert withdrawn == {-1}
    n_own = int((claimed["object_id"] == name).sum()) + int(
        (earlier["object_id"] == name).sum()) + len(tonight)
    assert updated["object_id"].tolist() == [name]
    assert updated["n_detections"].iloc[0] == n_own
