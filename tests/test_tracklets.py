"""Tracklets: the fast pair search against an all-pairs reference, chains, trails, nights and the
validation of detection tables."""

import numpy as np
import pandas as pd
import pytest
from references import ten_objects_detections

from ephemerides.observers import observatory
from linking.detections import local_night, prepare_detections
from linking.tracklets import TrackletConfig, find_pairs, make_tracklets

NIGHT = 61000


def _tangent_offsets(ra0_deg, dec0_deg, east_deg, north_deg):
    """RA and Dec (degrees) of points at tangent-plane offsets from (ra0, dec0)."""
    ra0, dec0 = np.deg2rad(ra0_deg), np.deg2rad(dec0_deg)
    c = np.array([np.cos(dec0) * np.cos(ra0), np.cos(dec0) * np.sin(ra0), np.sin(dec0)])
    east = np.array([-np.sin(ra0), np.cos(ra0), 0.0])
    north = np.cross(c, east)
    u = c + np.multiply.outer(np.deg2rad(east_deg), east) + np.multiply.outer(
        np.deg2rad(north_deg), north)
    u /= np.linalg.norm(u, axis=-1, keepdims=True)
    return np.rad2deg(np.arctan2(u[..., 1], u[..., 0])) % 360.0, np.rad2deg(np.arcsin(u[..., 2]))


def _table(mjd, ra, dec, **extra):
    """A detection table with explicit observer positions and night, so no site is needed."""
    n = len(mjd)
    frame = pd.DataFrame({
        "diaSourceId": np.arange(1000, 1000 + n, dtype=np.int64),
        "midpointMjdTai": np.asarray(mjd, dtype=float),
        "ra": ra,
        "dec": dec,
        "observer_x_au": np.full(n, 1.0),
        "observer_y_au": np.zeros(n),
        "observer_z_au": np.zeros(n),
        "night": np.full(n, NIGHT, dtype=np.int64),
    })
    for name, values in extra.items():
        frame[name] = values
    return frame


def _brute_force_pairs(frame, config):
    """All-pairs reference: every criterion recomputed independently (haversine, tangent PA)."""
    mjd = frame["midpointMjdTai"].to_numpy()
    ra, dec = np.deg2rad(frame["ra"].to_numpy()), np.deg2rad(frame["dec"].to_numpy())
    night = frame["night"].to_numpy()
    angle = frame["trailAngle"].to_numpy() if "trailAngle" in frame else None
    pairs = set()
    n = len(frame)
    for a in range(n):
        for b in range(a + 1, n):
            if night[a] != night[b]:
                continue
            dt_days = abs(mjd[b] - mjd[a])
            if not config.min_dt_s / 86400 <= dt_days <= config.max_dt_h / 24:
                continue
            h = np.sin((dec[b] - dec[a]) / 2) ** 2 + np.cos(dec[a]) * np.cos(dec[b]) * np.sin(
                (ra[b] - ra[a]) / 2) ** 2
            sep_deg = np.rad2deg(2 * np.arcsin(np.sqrt(h)))
            if sep_deg / dt_days > config.max_rate_deg_per_day:
                continue
            if angle is not None and not all(
                np.isnan(angle[p])
                or _angle_gap(angle[p], _tangent_pa(ra[p], dec[p], ra[q], dec[q]))
                <= config.trail_angle_tolerance_deg
                for p, q in ((a, b), (b, a))
            ):
                continue
            pairs.add((min(a, b), max(a, b)))
    return pairs


def _tangent_pa(ra1, dec1, ra2, dec2):
    """Position angle at point 1 towards point 2 from the tangent-plane projection of point 2."""
    u1 = np.array([np.cos(dec1) * np.cos(ra1), np.cos(dec1) * np.sin(ra1), np.sin(dec1)])
    u2 = np.array([np.cos(dec2) * np.cos(ra2), np.cos(dec2) * np.sin(ra2), np.sin(dec2)])
    east = np.array([-np.sin(ra1), np.cos(ra1), 0.0])
    north = np.cross(u1, east)
    d = u2 - (u1 @ u2) * u1
    return np.rad2deg(np.arctan2(d @ east, d @ north))


def _angle_gap(a_deg, b_deg):
    """Smallest difference of two undirected angles (modulo 180°), degrees."""
    gap = abs(a_deg - b_deg) % 180.0
    return min(gap, 180.0 - gap)


@pytest.mark.parametrize(
    ("ra0", "dec0"), [(0.0, 0.0), (359.98, 20.0), (123.0, 89.97), (250.0, -89.96)]
)
def test_fast_pair_search_equals_brute_force(ra0, dec0):
    rng = np.random.default_rng(int(ra0 * 10 + dec0 * 1000) % 2**32)
    n = 300
    visits = NIGHT + 0.1 + np.sort(rng.uniform(0, 0.12, 12))
    mjd = rng.choice(visits, n)
    ra, dec = _tangent_offsets(ra0, dec0, rng.uniform(-0.15, 0.15, n), rng.uniform(-0.15, 0.15, n))
    angle = np.where(rng.random(n) < 0.3, rng.uniform(0, 360, n), np.nan)
    frame = prepare_detections(_table(mjd, ra, dec, trailAngle=angle), observatory_code=None)
    config = TrackletConfig()
    i, j = find_pairs(frame, config)
    fast = set(zip(i.tolist(), j.tolist(), strict=True))
    reference = _brute_force_pairs(frame, config)
    assert len(reference) > 50
    assert fast == reference
    if ra0 > 359 or ra0 == 0.0:
        ra_values = frame["ra"].to_numpy()
        assert (ra_values < 1).any() and (ra_values > 359).any()


def _great_circle_track(mjd, t0, ra0, dec0, rate_deg_per_day, pa_deg):
    """Positions of an object moving at constant rate along a great circle from (ra0, dec0)."""
    ra0_r, dec0_r, pa = np.deg2rad(ra0), np.deg2rad(dec0), np.deg2rad(pa_deg)
    a = np.array([np.cos(dec0_r) * np.cos(ra0_r), np.cos(dec0_r) * np.sin(ra0_r), np.sin(dec0_r)])
    east = np.array([-np.sin(ra0_r), np.cos(ra0_r), 0.0])
    north = np.cross(a, east)
    b = np.sin(pa) * east + np.cos(pa) * north
    phase = np.deg2rad(rate_deg_per_day * (np.asarray(mjd) - t0))
    u = np.outer(np.cos(phase), a) + np.outer(np.sin(phase), b)
    return np.rad2deg(np.arctan2(u[:, 1], u[:, 0])) % 360.0, np.rad2deg(np.arcsin(u[:, 2]))


def _object_and_noise(rng):
    t0 = NIGHT + 0.15
    mjd = t0 + np.array([0.0, 15.0, 33.0, 61.0]) / 1440.0
    ra, dec = _great_circle_track(mjd, t0, 40.0, 12.0, 0.8, 60.0)
    # Noise: at the object's times plus a little, 2″ to 5″ off the track (never on it).
    noise_t = np.repeat(mjd[1:3], 3) + 1e-3
    track_ra, track_dec = _great_circle_track(noise_t, t0, 40.0, 12.0, 0.8, 60.0)
    offset = rng.uniform(2.0, 5.0, noise_t.size) / 3600 * rng.choice([-1, 1], noise_t.size)
    noise_ra, noise_dec = np.array([
        _tangent_offsets(r, d, o * 0.5, -o * 0.866)  # across the track (PA 150°)
        for r, d, o in zip(track_ra, track_dec, offset, strict=True)
    ]).T
    frame = _table(np.concatenate((mjd, noise_t)), np.concatenate((ra, noise_ra)),
                   np.concatenate((dec, noise_dec)))
    return frame, frame["diaSourceId"].to_numpy()[:4], (mjd, t0)


def test_chain_on_great_circle_with_its_rate_and_without_noise():
    frame, object_ids, (mjd, t0) = _object_and_noise(np.random.default_rng(1))
    result = make_tracklets(frame, observatory_code=None)
    members = result.members.groupby("tracklet_id")["diaSourceId"].apply(frozenset)
    on_object = [tid for tid, ids in members.items() if ids & frozenset(object_ids)]
    chain = [tid for tid in on_object if members[tid] == frozenset(object_ids)]
    assert len(chain) == 1
    row = result.tracklets.set_index("tracklet_id", drop=False).loc[chain[0]]
    assert row["n_detections"] == 4
    # No other tracklet holds two of the object's detections: no noise joined it, and its
    # sub-pairs are not repeated. (Noise points may line up among themselves; that is allowed.)
    for tid, ids in members.items():
        if tid != row["tracklet_id"]:
            assert len(ids & frozenset(object_ids)) <= 1
    # Rate: finite difference of the true track at the mean time, cos Dec included.
    tm = mjd.mean()
    h = 1e-3
    (ra_a, ra_b), (dec_a, dec_b) = _great_circle_track([tm - h, tm + h], t0, 40.0, 12.0, 0.8, 60.0)
    expected_ra_rate = (ra_b - ra_a) / (2 * h) * np.cos(np.deg2rad((dec_a + dec_b) / 2))
    expected_dec_rate = (dec_b - dec_a) / (2 * h)
    assert abs(row["ra_rate_deg_per_day"] - expected_ra_rate) < 1e-4
    assert abs(row["dec_rate_deg_per_day"] - expected_dec_rate) < 1e-4
    assert np.hypot(row["ra_rate_deg_per_day"], row["dec_rate_deg_per_day"]) == pytest.approx(
        0.8, rel=1e-4)
    ra_end, dec_end = _great_circle_track([mjd[-1]], t0, 40.0, 12.0, 0.8, 60.0)
    assert row["ra_end_deg"] == pytest.approx(ra_end[0], abs=1e-8)
    assert row["dec_end_deg"] == pytest.approx(dec_end[0], abs=1e-8)
    assert row["mjd_tai_start"] == mjd[0] and row["mjd_tai_end"] == mjd[-1]


def test_row_order_does_not_change_the_output():
    frame, _, _ = _object_and_noise(np.random.default_rng(2))
    reference = make_tracklets(frame, observatory_code=None)
    for seed in range(3):
        shuffled = frame.sample(frac=1.0, random_state=seed)
        result = make_tracklets(shuffled, observatory_code=None)
        pd.testing.assert_frame_equal(result.tracklets, reference.tracklets)
        pd.testing.assert_frame_equal(result.members, reference.members)


def _eastward_pair(**extra):
    mjd = NIGHT + 0.1 + np.array([0.0, 30.0]) / 1440.0
    ra = np.array([100.0, 100.0 + 0.01])  # 36″ East in 30 min: 0.48°/day at PA 90°
    return _table(mjd, ra, np.zeros(2), **extra)


@pytest.mark.parametrize(
    ("angles", "lengths", "exposure", "accepted"),
    [
        ([90.0, 92.0], None, None, True),
        ([270.0, np.nan], None, None, True),  # modulo 180°; NaN: not measured
        ([0.0, 90.0], None, None, False),
        ([90.0, 140.0], None, None, False),
        ([0.0, 0.0], [0.3, 0.3], None, True),  # unresolved trails carry no direction
        ([90.0, 90.0], [0.4, 0.4], [30.0, 30.0], True),  # 0.48°/day × 30 s = 0.6″
        ([90.0, 90.0], [5.0, 5.0], [30.0, 30.0], False),
    ],
)
def test_trails_must_agree_with_the_motion(angles, lengths, exposure, accepted):
    extra = {"trailAngle": angles}
    if lengths is not None:
        extra["trailLength"] = lengths
    if exposure is not None:
        extra["visitExposureTime_s"] = exposure
    result = make_tracklets(_eastward_pair(**extra), observatory_code=None)
    assert len(result.tracklets) == (1 if accepted else 0)


@pytest.mark.parametrize(
    ("angles", "lengths", "errors", "gain", "flags", "accepted"),
    [
        # A faint point source's measured "trail" (2.0 ± 1.5″ at 0°, not beating a point
        # source) says nothing: the pair stays, though the fixed 1″ and 15° would reject it.
        ([0.0, 0.0], [2.0, 2.0], [1.5, 1.5], [3.0, 3.0], [0, 0], True),
        # Significant, and within 5σ of the motion (0.6″ at 90° expected).
        ([95.0, 85.0], [0.9, 0.5], [0.1, 0.1], [40.0, 40.0], [0, 0], True),
        # Significant and 3″ longer than the motion (30σ): rejected.
        ([90.0, 90.0], [3.6, 0.6], [0.1, 0.1], [400.0, 40.0], [0, 0], False),
        # Significant, at 30° from the motion with a 2° error: rejected.
        ([120.0, 90.0], [0.6, 0.6], [0.1, 0.1], [40.0, 40.0], [0, 0], False),
        # The same trail with a flagged fit is not checked.
        ([120.0, 90.0], [0.6, 0.6], [0.1, 0.1], [40.0, 40.0], [8, 0], True),
    ],
)
def test_measured_trails_are_checked_against_their_errors(angles, lengths, errors, gain, flags,
                                                          accepted):
    """Trails measured with errors (sso.cutouts) are checked, as in the association, only when
    they beat a point source and are unflagged, within 5σ of their errors."""
    pair = _eastward_pair(trailAngle=angles, trailLength=lengths, trailLengthErr=errors,
                          trailAngleErr=[2.0, 2.0], trailDeltaChi2=gain, trailFlags=flags,
                          visitExposureTime_s=[30.0, 30.0])
    config = TrackletConfig(trail_tracklets=False)
    result = make_tracklets(pair, config, observatory_code=None)
    assert len(result.tracklets) == (1 if accepted else 0)


def test_stationary_and_too_fast_pairs_are_rejected():
    mjd = NIGHT + 0.1 + np.array([0.0, 30.0]) / 1440.0
    # 0.1″ apart with the default 0.1″ errors: χ² = 0.01 / 0.02 = 0.5 < 2².
    still = _table(mjd, np.array([50.0, 50.0 + 0.1 / 3600]), np.zeros(2))
    fast = _table(mjd, np.array([50.0, 50.1]), np.zeros(2))  # 4.8°/day
    assert len(make_tracklets(still, observatory_code=None).tracklets) == 0
    assert len(make_tracklets(fast, observatory_code=None).tracklets) == 0
    quicker = TrackletConfig(max_rate_deg_per_day=5.0)
    assert len(make_tracklets(fast, quicker, observatory_code=None).tracklets) == 1


@pytest.mark.parametrize(
    ("dt_s", "motion_arcsec", "sigma_arcsec", "kept"),
    [
        (40.0, 0.29, 0.03, True),  # back-to-back visits, 0.25°/day: 6.8σ
        (40.0, 0.29, 0.3, False),  # the same with 0.3″ errors: 0.7σ
        (1500.0, 0.35, 0.1, True),  # near the stationary point: 0.35″ in 25 min, 2.5σ
        (1500.0, 0.25, 0.1, False),  # 1.8σ
    ],
)
def test_pairs_are_kept_when_their_motion_is_significant(dt_s, motion_arcsec, sigma_arcsec,
                                                         kept):
    mjd = NIGHT + 0.1 + np.array([0.0, dt_s]) / 86400.0
    ra, dec = _tangent_offsets(50.0, 10.0, np.array([0.0, motion_arcsec]) / 3600, np.zeros(2))
    error = np.full(2, sigma_arcsec / 3600)
    pair = _table(mjd, ra, dec, raErr=error, decErr=error)
    assert len(make_tracklets(pair, observatory_code=None).tracklets) == (1 if kept else 0)
    # Without raErr/decErr the default error decides.
    bare = _table(mjd, ra, dec)
    config = TrackletConfig(default_sigma_arcsec=sigma_arcsec)
    assert len(make_tracklets(bare, config, observatory_code=None).tracklets) == int(kept)


def test_a_stationary_source_seen_on_several_visits_makes_no_tracklet():
    # A variable star or an artefact at one place, seen on 6 visits of a night with 0.1″
    # errors: some of its 15 pairs pass 2σ by chance, but they all lie in one chain that does
    # not move. A slow mover 0.2° away (0.6″ in 24 min) still makes its tracklet.
    rng = np.random.default_rng(5)
    mjd = NIGHT + 0.1 + np.array([0.0, 1.0, 24.0, 25.0, 48.0, 49.0]) / 1440.0
    east, north = rng.normal(0.0, 0.1, (2, 6)) / 3600
    ra, dec = _tangent_offsets(80.0, -20.0, east, north)
    mover_t = mjd[[0, 2]]
    mover_ra, mover_dec = _tangent_offsets(80.0, -19.8, np.array([0.0, 0.6]) / 3600,
                                           np.zeros(2))
    frame = _table(np.concatenate((mjd, mover_t)), np.concatenate((ra, mover_ra)),
                   np.concatenate((dec, mover_dec)))
    sigma = 0.1 / 3600.0
    frame["raErr"] = sigma
    frame["decErr"] = sigma
    still_pairs = [(a, b) for a in range(6) for b in range(a + 1, 6)
                   if np.hypot(east[b] - east[a], north[b] - north[a]) >= 2 * np.sqrt(2) * sigma]
    assert still_pairs  # without the chain rule some pairs would be tracklets
    result = make_tracklets(frame, observatory_code=None)
    mover_ids = set(frame["diaSourceId"].iloc[6:])
    assert len(result.tracklets) == 1
    assert set(result.members["diaSourceId"]) == mover_ids


def test_nights_change_at_local_noon_in_chile():
    longitude = observatory("X05").longitude_deg  # 289.25° East = 70.75° West
    to_ut = -((longitude + 180) % 360 - 180) / 360.0  # local mean time + this = UT, days
    evening = 61000.0  # local date of the evening
    local_times = np.array([
        evening + 23 / 24,  # 23:00 local, evening before
        evening + 1 + 2 / 24,  # 02:00 local, next date: same night
        evening + 19 / 24,  # 19:00 local = 23:43 UT on MJD 61000
        evening + 20 / 24,  # 20:00 local = 00:43 UT on MJD 61001
        evening + 1 + 11.9 / 24,  # before local noon: same night
        evening + 1 + 12.1 / 24,  # after local noon: the next night
    ])
    mjd_utc = local_times + to_ut
    assert np.floor(mjd_utc[2]) != np.floor(mjd_utc[3])  # the integer MJD is crossed
    np.testing.assert_array_equal(local_night(mjd_utc, longitude), [61000] * 5 + [61001])
    table = pd.DataFrame({
        "diaSourceId": np.arange(6, dtype=np.int64),
        "midpointMjdTai": mjd_utc + 37 / 86400,
        "ra": np.linspace(10, 10.1, 6),
        "dec": np.zeros(6),
    })
    prepared = prepare_detections(table, observatory_code="X05")
    np.testing.assert_array_equal(prepared["night"], [61000] * 5 + [61001])
    assert np.all(np.abs(np.linalg.norm(prepared[["observer_x_au", "observer_y_au",
                                                   "observer_z_au"]], axis=1) - 1.0) < 0.02)
    explicit = prepared.drop(columns="night")
    by_longitude = prepare_detections(explicit, observatory_code=None,
                                      observatory_longitude_deg=longitude)
    np.testing.assert_array_equal(by_longitude["night"], prepared["night"])


def _valid():
    return pd.DataFrame({
        "diaSourceId": np.array([5, 6, 7], dtype=np.int64),
        "midpointMjdTai": [61000.1, 61000.11, 61000.12],
        "ra": [10.0, 10.01, 10.02],
        "dec": [0.0, 0.0, 0.0],
    })


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="ra"), r"lacks the column\(s\) \['ra'\]"),
        (lambda f: f.assign(ra=[10.0, np.nan, 10.0]), r"'ra'.*finite.*diaSourceId=6"),
        (lambda f: f.assign(dec=[0.0, 0.0, 91.0]), r"'dec'.*diaSourceId=7.*\[-90, 90\]"),
        (lambda f: f.assign(diaSourceId=np.array([5, 5, 7])), r"unique.*\[5\]"),
        (lambda f: f.assign(diaSourceId=[5.0, 6.5, 7.0]), r"'diaSourceId' is not a 64-bit integer "
         r"in row 1: 6.5; allowed: integers"),
        (lambda f: f.assign(ra=[10.0, 400.0, -30.0]), r"'ra' is out of range in row 1 "
         r"\(diaSourceId=6\): 400.0, row 2 \(diaSourceId=7\): -30.0; allowed: numbers in "
         r"\[0, 360\) deg"),
        (lambda f: f.assign(midpointMjdTai=["61000.1", "x", "61000.12"]),
         r"'midpointMjdTai' is not a number in row 1 \(diaSourceId=6\): 'x'"),
        (lambda f: f.assign(trailLength=[1.0, -1.0, 1.0]), r"'trailLength'.*>= 0"),
        (lambda f: f.assign(observer_x_au=1.0), r"need all of"),
    ],
)
def test_validation_errors_name_the_column_and_rows(change, message):
    with pytest.raises(ValueError, match=message):
        prepare_detections(change(_valid()))


def test_numbers_written_as_text_are_read_as_numbers():
    """A CSV read without types: numeric text becomes numbers, with the same result."""
    text = _valid().astype(str)
    frame = prepare_detections(text)
    expected = prepare_detections(_valid())
    pd.testing.assert_frame_equal(frame, expected)


def test_explicit_positions_need_a_night_rule():
    table = _valid().assign(observer_x_au=1.0, observer_y_au=0.0, observer_z_au=0.0)
    with pytest.raises(ValueError, match=r"'night' column.*observatory_longitude_deg"):
        prepare_detections(table, observatory_code=None)
    with pytest.raises(ValueError, match="no observer"):
        prepare_detections(_valid(), observatory_code=None)


def test_config_is_validated():
    with pytest.raises(ValueError, match="max_rate_deg_per_day"):
        make_tracklets(_valid(), TrackletConfig(max_rate_deg_per_day=-1.0))


def test_every_simulated_object_gets_tracklets_on_its_nights(shared_data):
    table, truth_table = ten_objects_detections(shared_data)
    config = TrackletConfig()
    result = make_tracklets(table, config)
    sigma = config.default_sigma_arcsec / 3600.0
    prepared = prepare_detections(table)
    truth = dict(zip(truth_table["diaSourceId"], truth_table["object_id"], strict=True))
    members = result.members.assign(obj=result.members["diaSourceId"].map(truth))
    pure = members.groupby("tracklet_id")["obj"].agg(lambda s: s.iloc[0] if s.nunique() == 1
                                                     else None)
    assert pure.notna().all()  # the ten objects never cross: no tracklet mixes two
    nights = result.tracklets.set_index("tracklet_id")["night"]
    found = {(obj, nights[tid]) for tid, obj in pure.items() if obj is not None}
    prepared["obj"] = prepared["diaSourceId"].map(truth)
    expected = set()
    for (obj, night), group in prepared.groupby(["obj", "night"]):
        # A pair whose separation reaches min_motion_sigma of the two errors combined.
        i, j = find_pairs(group.reset_index(drop=True), config)
        ra, dec = np.deg2rad(group["ra"].to_numpy()), np.deg2rad(group["dec"].to_numpy())
        separation = np.arccos(np.clip(np.sin(dec[i]) * np.sin(dec[j]) + np.cos(dec[i])
                                       * np.cos(dec[j]) * np.cos(ra[i] - ra[j]), -1, 1))
        if (np.rad2deg(separation) >= config.min_motion_sigma * np.sqrt(2) * sigma).any():
            expected.add((obj, night))
    assert len({obj for obj, _ in expected}) == 10
    assert expected <= found


def test_tracklets_table_follows_its_declared_schema():
    """make_tracklets writes the Tracklet schema's columns, in order, in their dtypes."""
    from ephemerides.schemas import TRACKLET

    detections = _valid().assign(midpointMjdTai=[61000.1, 61000.11, 61000.12],
                                 ra=[10.0, 10.001, 10.002])
    table = make_tracklets(detections).tracklets
    assert len(table) >= 1
    assert list(table.columns) == [c.name for c in TRACKLET.columns]
    checked = TRACKLET.check(table)
    pd.testing.assert_frame_equal(checked, table)
