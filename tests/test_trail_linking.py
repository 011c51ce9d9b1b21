"""Trail tracklets in linking: near-Earth asteroids (real MPCORB orbits) moving 2-12°/day,
each detected once per night on three nights with a measured trail, are linked — purely —
only with trail tracklets; the trail's sense is the one the linkage's orbit gives."""

import numpy as np
import pandas as pd
import pytest

import linking
from ephemerides import ephemeris, read_orbits
from linking import LinkingConfig, TrackletConfig, make_tracklets

START_MJD_TAI = 57400.2
NIGHTS = np.array([0.0, 3.0, 6.0])
EXPOSURE_S = 30.0


@pytest.fixture(scope="module")
def fast_neos(shared_data):
    """One detection per night of 40 NEAs moving 2-20°/day (elongation > 60°), N-body truth,
    0.05″ astrometry, trails of the apparent motion during 30 s measured to 2 % + 0.05″ and
    0.5°; with the truth ``object_id`` per ``diaSourceId``."""
    orbits = read_orbits(shared_data / "orbits" / "nea_mpcorb_epoch_2016.txt")
    screen = ephemeris(orbits, START_MJD_TAI + NIGHTS, observatory_code="X05",
                       time_scale="tai", method="2body")
    screen["rate"] = np.hypot(screen["ra_rate_deg_per_day"], screen["dec_rate_deg_per_day"])
    summary = screen.groupby("object_id").agg(slowest=("rate", "min"), fastest=("rate", "max"),
                                              elongation=("elongation_deg", "min"))
    chosen = summary[(summary["slowest"] > 2.0) & (summary["fastest"] < 20.0)
                     & (summary["elongation"] > 60.0)].index[:40]
    rng = np.random.default_rng(1)
    parts = []
    for name in chosen:
        times = START_MJD_TAI + NIGHTS + rng.uniform(0.0, 0.2, NIGHTS.size)
        part = ephemeris(orbits[orbits["object_id"] == name], times, observatory_code="X05",
                         time_scale="tai", method="nbody")
        parts.append(part.assign(t=times))
    truth = pd.concat(parts, ignore_index=True)
    n = len(truth)
    sigma = 0.05 / 3600.0
    rate = np.hypot(truth["ra_rate_deg_per_day"], truth["dec_rate_deg_per_day"])
    length = rate * EXPOSURE_S / 86400.0 * 3600.0
    angle = np.rad2deg(np.arctan2(truth["ra_rate_deg_per_day"], truth["dec_rate_deg_per_day"]))
    length_err = 0.02 * length + 0.05
    detections = pd.DataFrame({
        "diaSourceId": np.arange(n, dtype=np.int64), "midpointMjdTai": truth["t"],
        "ra": (truth["ra_deg"] + rng.normal(0.0, sigma, n)
               / np.cos(np.radians(truth["dec_deg"]))) % 360.0,
        "dec": truth["dec_deg"] + rng.normal(0.0, sigma, n), "raErr": sigma, "decErr": sigma,
        "trailLength": length + rng.normal(0.0, 1.0, n) * length_err,
        "trailLengthErr": length_err,
        "trailAngle": (angle + rng.normal(0.0, 0.5, n)) % 180.0, "trailAngleErr": 0.5,
        "trailDeltaChi2": 1000.0, "trailFlags": 0, "visitExposureTime_s": EXPOSURE_S})
    return detections, dict(zip(detections["diaSourceId"], truth["object_id"], strict=True))


def test_a_trail_is_a_tracklet_both_ways(fast_neos):
    detections, _ = fast_neos
    tracklets = make_tracklets(detections)
    assert len(tracklets.tracklets) == 2 * len(detections)  # no pairs: one per night
    assert (tracklets.tracklets["n_detections"] == 1).all()
    first, second = tracklets.tracklets.iloc[0], tracklets.tracklets.iloc[1]
    assert first["ra_rate_deg_per_day"] == -second["ra_rate_deg_per_day"]
    assert (first["ra_start_deg"], first["dec_start_deg"]) == (second["ra_end_deg"],
                                                                second["dec_end_deg"])
    span = (first["mjd_tai_end"] - first["mjd_tai_start"]) * 86400.0
    assert span == pytest.approx(EXPOSURE_S)
    rate = np.hypot(first["ra_rate_deg_per_day"], first["dec_rate_deg_per_day"])
    assert rate * EXPOSURE_S / 86400.0 * 3600.0 == pytest.approx(
        detections.sort_values("diaSourceId")["trailLength"].iloc[0])
    off = make_tracklets(detections, TrackletConfig(trail_tracklets=False))
    assert len(off.tracklets) == 0


def test_objects_seen_once_per_night_are_linked_with_trail_tracklets(fast_neos):
    """With the default search (trail radii from the trails' errors, the dense near-Earth grid
    for trail tracklets) at least 95 % of them are linked (39 of 40), every linkage pure with
    all three detections, the fits' RMS within the astrometry (0.05″ per coordinate and the
    trail ends' errors; the trails' sense taken from the orbit); without trail tracklets none
    is."""
    detections, truth = fast_neos
    result = linking.link(detections)
    members = result.members.assign(truth=result.members["diaSourceId"].map(truth))
    per_linkage = members.groupby("linkage_id")["truth"]
    assert len(result.linkages) >= 38
    assert (per_linkage.nunique() == 1).all() and per_linkage.first().is_unique
    assert (result.linkages["n_detections"] == 3).all()
    assert (result.linkages["rms_arcsec"] < 0.15).all()
    assert not members["diaSourceId"].duplicated().any()
    off = linking.link(detections, LinkingConfig(tracklets=TrackletConfig(
        trail_tracklets=False)))
    assert len(off.linkages) == 0


def test_the_close_grid_searches_trail_tracklets_alone(fast_neos):
    """The dense near-Earth grid adds pure candidates for objects the mb+neo grid alone misses
    (39 against 37 here; bench_trails: 96 % against 87 % over 15 nights); under it only trail
    tracklets are projected (a detection in a pair never is)."""
    detections, truth = fast_neos

    def objects(config):
        candidates = linking.find_candidates(detections, config)
        owner = candidates.members.assign(truth=candidates.members["diaSourceId"].map(truth))
        per = owner.groupby("linkage_id")["truth"]
        return set(per.first()[per.nunique() == 1])

    alone = objects(LinkingConfig(trail_hypotheses=None))
    assert alone < objects(LinkingConfig())
    # Pairs of the same objects (a second detection 30 min later, no trails): nothing is
    # found under the close grid alone.
    later = detections.assign(diaSourceId=detections["diaSourceId"] + len(detections),
                              midpointMjdTai=detections["midpointMjdTai"] + 30.0 / 1440.0)
    pairs = pd.concat([detections, later]).drop(columns=[c for c in detections.columns
                                                         if c.startswith("trail")])
    tracklets = make_tracklets(pairs, TrackletConfig(max_rate_deg_per_day=25.0))
    assert len(tracklets.tracklets) > 0 and (tracklets.tracklets["n_detections"] == 2).all()
    close = linking.hypothesis_grid("close")
    found = linking.search_tracklets(tracklets, close.iloc[:0], trail_hypotheses=close)
    assert len(found.linkages) == 0


def test_the_trail_pass_is_the_same_on_an_executor_and_in_sky_partitions(fast_neos):
    """With trail hypotheses, the serial executor (strided units per pass) and the sky
    partitions give the threads' candidates, byte for byte."""
    from sso.executors import SerialExecutor

    detections, _ = fast_neos
    tracklets = make_tracklets(detections)
    config = LinkingConfig(threads=2)
    hypotheses = linking.hypothesis_grid("neo").iloc[::40]
    close = linking.hypothesis_grid("close").iloc[::200]
    expected = linking.search_tracklets(tracklets, hypotheses, config, trail_hypotheses=close)
    assert (expected.linkages["n_tracklets"] >= 3).any()
    assert (expected.linkages["r_au"].isin(close["r_au"])
            & ~expected.linkages["r_au"].isin(hypotheses["r_au"])).any()
    for result in (linking.search_tracklets(tracklets, hypotheses, config,
                                            trail_hypotheses=close, executor=SerialExecutor()),
                   linking.search_tracklets(tracklets, hypotheses,
                                            LinkingConfig(sky_nside=1),
                                            trail_hypotheses=close)):
        pd.testing.assert_frame_equal(result.linkages, expected.linkages, check_exact=True)
        pd.testing.assert_frame_equal(result.members, expected.members, check_exact=True)


def test_a_candidate_that_gives_the_trails_the_wrong_sense_is_still_linked(fast_neos,
                                                                          shared_data):
    """Each object's three detections as a candidate whose state is the true position with
    the geocentric velocity reversed, so that every trail is first oriented the wrong way
    (a cluster's mean state under a coarse hypothesis can be so): the fit to the positions of
    the three nights turns them, and every object is linked, purely, with all three."""
    from ephemerides import observer_states, propagate
    from linking.heliolinc import STATE_COLUMNS, Candidates

    detections, truth = fast_neos
    epoch = START_MJD_TAI + 3.1
    orbits = read_orbits(shared_data / "orbits" / "nea_mpcorb_epoch_2016.txt")
    names = sorted(set(truth.values()))
    states = propagate(orbits[orbits["object_id"].isin(names)], [epoch],
                       frame="equatorial").set_index("object_id")
    earth = observer_states("500", [epoch], origin="sun")[0]
    owner = detections["diaSourceId"].map(truth)
    linkages, members = [], []
    for k, name in enumerate(names):
        state = states.loc[name, list(STATE_COLUMNS)].to_numpy(np.float64).copy()
        state[3:] = 2.0 * earth[3:] - state[3:]
        linkages.append({"linkage_id": k, "n_tracklets": 3, "n_detections": 3, "n_nights": 3,
                         "arc_days": 6.0, "epoch_mjd_tdb": epoch,
                         **dict(zip(STATE_COLUMNS, state, strict=True))})
        members += [(k, i) for i in np.sort(detections["diaSourceId"][owner == name])]
    candidates = Candidates(pd.DataFrame(linkages),
                            pd.DataFrame(members, columns=["linkage_id", "diaSourceId"]))
    result = linking.purify(linking.prepare_detections(detections), candidates,
                            LinkingConfig())
    per_linkage = result.members["diaSourceId"].map(truth).groupby(result.members["linkage_id"])
    assert len(result.linkages) == len(names)
    assert (per_linkage.nunique() == 1).all() and per_linkage.first().is_unique
    assert (result.linkages["n_detections"] == 3).all()
