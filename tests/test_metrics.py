"""Tests of linking.metrics: difi's fixture with hand-derived labels, and small synthetic cases."""

import numpy as np
import pandas as pd
import pytest

from linking.metrics import FindabilityRule, classify_linkages, completeness, findable_objects

# --- difi's own fixture -------------------------------------------------------------------------

# Members per object in each of the 20 linkages, counted by hand from linkage_members.parquet
# joined to observations.parquet (objects 00000..00004, 30 detections each, no noise):
#   linkage                          00000 00001 00002 00003 00004  size  majority  foreign
#   linkage_mixed_00000                3     3     0     3     0      9     3 (tie)   6/9
#   linkage_mixed_00001                3     0     2     2     0      7     3         4/7
#   linkage_mixed_00002                0     3     0     3     3      9     3 (tie)   6/9
#   linkage_mixed_00003                3     3     0     0     3      9     3 (tie)   6/9
#   linkage_mixed_00004                2     3     0     3     0      8     3 (tie)   5/8
#   linkage_partial_00000             11     0     0     1     0     12    11         1/12
#   linkage_partial_00001              0    10     0     1     1     12    10         2/12
#   linkage_partial_00002              2     0     9     1     0     12     9         3/12
#   linkage_partial_00003              3     0     2     7     0     12     7         5/12
#   linkage_partial_00004              0     4     1     1     6     12     6         6/12
#   linkage_pure_0000k (k = 0..4)     30 of object k only                30    30         0
#   linkage_pure_incomplete_0000k     6, 10, 7, 8, 10 of object k only          all        0
# At the 20 % threshold only 1/12 and 2/12 foreign qualify as contaminated; at difi's 50 % the
# five "partial" linkages all do (6/12 = 50 % is inclusive), which is how the fixture is named.
FIXTURE_COUNTS = {
    "linkage_mixed_00000": {"00000": 3, "00001": 3, "00003": 3},
    "linkage_mixed_00001": {"00000": 3, "00002": 2, "00003": 2},
    "linkage_mixed_00002": {"00001": 3, "00003": 3, "00004": 3},
    "linkage_mixed_00003": {"00000": 3, "00001": 3, "00004": 3},
    "linkage_mixed_00004": {"00000": 2, "00001": 3, "00003": 3},
    "linkage_partial_00000": {"00000": 11, "00003": 1},
    "linkage_partial_00001": {"00001": 10, "00003": 1, "00004": 1},
    "linkage_partial_00002": {"00000": 2, "00002": 9, "00003": 1},
    "linkage_partial_00003": {"00000": 3, "00002": 2, "00003": 7},
    "linkage_partial_00004": {"00001": 4, "00002": 1, "00003": 1, "00004": 6},
    **{f"linkage_pure_0000{k}": {f"0000{k}": 30} for k in range(5)},
    **{
        f"linkage_pure_incomplete_0000{k}": {f"0000{k}": n} for k, n in enumerate([6, 10, 7, 8, 10])
    },
}
# (class, linked object) at contamination_threshold = 0.2, from the table above.
EXPECTED_AT_20_PERCENT = {
    **{f"linkage_mixed_0000{k}": ("mixed", None) for k in range(5)},
    "linkage_partial_00000": ("contaminated", "00000"),
    "linkage_partial_00001": ("contaminated", "00001"),
    "linkage_partial_00002": ("mixed", None),
    "linkage_partial_00003": ("mixed", None),
    "linkage_partial_00004": ("mixed", None),
    **{f"linkage_pure_0000{k}": ("pure", f"0000{k}") for k in range(5)},
    **{f"linkage_pure_incomplete_0000{k}": ("pure", f"0000{k}") for k in range(5)},
}


@pytest.fixture(scope="module")
def difi_fixture(shared_data):
    folder = shared_data / "linking" / "difi_fixture"
    if not folder.is_dir():
        pytest.skip(f"difi fixture not found at {folder}")
    observations = pd.read_parquet(folder / "observations.parquet")
    members = pd.read_parquet(folder / "linkage_members.parquet")
    # difi stores time as {days, nanos} (MJD day and nanoseconds into it).
    days = np.array([t["days"] for t in observations["time"]], dtype=float)
    nanos = np.array([t["nanos"] for t in observations["time"]], dtype=float)
    observations = observations.rename(columns={"id": "obs_id"}).assign(
        midpointMjdTai=days + nanos / 86400e9
    )
    return observations, members


def test_fixture_membership_matches_hand_counts(difi_fixture):
    observations, members = difi_fixture
    joined = members.merge(observations[["obs_id", "object_id"]], on="obs_id")
    counts = joined.groupby(["linkage_id", "object_id"]).size()
    got = {linkage: dict(counts.loc[linkage].items()) for linkage in counts.index.unique(0)}
    assert got == FIXTURE_COUNTS


def test_fixture_classification_at_20_percent(difi_fixture):
    observations, members = difi_fixture
    result = classify_linkages(members, observations, 0.2, id_column="obs_id")
    got = {
        row.linkage_id: (
            row.linkage_class,
            None if pd.isna(row.linked_object_id) else row.linked_object_id,
        )
        for row in result.itertuples()
    }
    assert got == EXPECTED_AT_20_PERCENT
    by_id = result.set_index("linkage_id")
    for linkage, counts in FIXTURE_COUNTS.items():
        size = sum(counts.values())
        assert by_id.loc[linkage, "num_members"] == size
        assert by_id.loc[linkage, "num_objects"] == len(counts)
        assert by_id.loc[linkage, "purity"] == pytest.approx(max(counts.values()) / size)
    assert by_id["pure_complete"].sum() == 5  # the five 30-detection linkages
    assert not by_id.filter(like="pure_incomplete", axis=0)["pure_complete"].any()


def test_fixture_classification_at_difi_50_percent(difi_fixture):
    observations, members = difi_fixture
    result = classify_linkages(members, observations, 0.5, id_column="obs_id")
    classes = result.set_index("linkage_id")["linkage_class"].astype(str)
    expected = classes.index.str.extract(r"linkage_(mixed|partial|pure)")[0].map(
        {"mixed": "mixed", "partial": "contaminated", "pure": "pure"}
    )
    assert list(classes) == list(expected)


def test_fixture_findable_and_completeness(difi_fixture):
    observations, members = difi_fixture
    # Each object: 3 detections 30 min apart on each of nights 60999..61008.
    findable = findable_objects(observations, id_column="obs_id")
    assert findable["findable"].all()
    assert list(findable["num_obs"]) == [30] * 5
    assert list(findable["num_nights_with_tracklet"]) == [10] * 5
    summary = completeness(findable, classify_linkages(members, observations, id_column="obs_id"))
    assert summary["num_findable"] == 5
    # Every pure linkage holds >= 6 (difi's min_obs) detections, so all five objects are found.
    assert summary["num_found_pure"] == 5
    assert summary["num_found_contaminated"] == 2
    assert summary["completeness"] == 1.0
    assert (summary["num_pure"], summary["num_contaminated"], summary["num_mixed"]) == (10, 2, 8)
    assert summary["pure_fraction"] == pytest.approx(10 / 20)


# --- synthetic linkages ------------------------------------------------------------------------


def _linkage(object_ids):
    """One linkage "L" whose members have the given true objects (None for noise)."""
    ids = np.arange(len(object_ids))
    observations = pd.DataFrame({"diaSourceId": ids, "object_id": pd.Series(object_ids)})
    members = pd.DataFrame({"linkage_id": "L", "diaSourceId": ids})
    return members, observations


@pytest.mark.parametrize(
    ("object_ids", "expected_class", "expected_purity"),
    [
        (["a"] * 10, "pure", 1.0),
        (["a"] * 8 + ["b"] * 2, "contaminated", 0.8),  # exactly 20 % foreign: contaminated
        (["a"] * 7 + ["b"] * 3, "mixed", 0.7),
        (["a"] * 9 + [None], "contaminated", 0.9),  # noise makes a linkage non-pure
        (["a"] * 4 + [None] * 6, "mixed", 0.4),
        ([None] * 6, "mixed", 0.0),
        (["a"] * 5 + ["b"] * 5, "mixed", 0.5),
    ],
)
def test_synthetic_classes(object_ids, expected_class, expected_purity):
    members, observations = _linkage(object_ids)
    row = classify_linkages(members, observations).iloc[0]
    assert row["linkage_class"] == expected_class
    assert row["purity"] == pytest.approx(expected_purity)
    assert row["contamination"] == pytest.approx(1 - expected_purity)


def test_tie_for_majority_is_mixed_even_at_high_threshold():
    members, observations = _linkage(["a"] * 5 + ["b"] * 5)
    row = classify_linkages(members, observations, contamination_threshold=0.6).iloc[0]
    assert row["linkage_class"] == "mixed"
    assert pd.isna(row["linked_object_id"])


def test_found_needs_min_obs():
    members, observations = _linkage(["a"] * 5)
    row = classify_linkages(members, observations, min_obs=6).iloc[0]
    assert row["linkage_class"] == "pure" and not row["found_pure"]
    assert classify_linkages(members, observations, min_obs=5).iloc[0]["found_pure"]


def test_errors_name_the_problem():
    members, observations = _linkage(["a"] * 3)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['object_id'\]"):
        classify_linkages(members, observations.drop(columns="object_id"))
    with pytest.raises(ValueError, match="not in observations"):
        classify_linkages(members, observations.iloc[:2])
    with pytest.raises(ValueError, match="repeat a detection"):
        classify_linkages(pd.concat([members, members]), observations)
    with pytest.raises(ValueError, match="contamination_threshold"):
        classify_linkages(members, observations, contamination_threshold=1.0)
    with pytest.raises(ValueError, match="min_nights"):
        findable_objects(observations, FindabilityRule(min_nights=0))


# --- synthetic findability ---------------------------------------------------------------------

ARCSEC_DEG = 1.0 / 3600.0


def _tracklets(nights, separation_arcsec=5.0, gap_minutes=30.0, with_night=True):
    """Object "a": a pair of detections on each night, ``separation_arcsec`` apart in Dec."""
    rows = []
    for night in nights:
        start = 60000.0 + night + 0.2  # 0.2 day after midnight UTC: same noon-to-noon night
        rows.append((start, 10.0))
        rows.append((start + gap_minutes / 1440.0, 10.0 + separation_arcsec * ARCSEC_DEG))
    table = pd.DataFrame(rows, columns=["midpointMjdTai", "dec"])
    table["diaSourceId"] = np.arange(len(table))
    table["object_id"] = "a"
    table["ra"] = 150.0
    if with_night:
        table["night"] = np.floor(table["midpointMjdTai"] - 0.5).astype(int)
    return table


DEFAULT_RULE = FindabilityRule()


def _findable(table: pd.DataFrame, rule: FindabilityRule = DEFAULT_RULE) -> pd.Series:
    return findable_objects(table, rule).set_index("object_id").loc["a"]


def test_exactly_three_nights_is_findable():
    row = _findable(_tracklets([0, 5, 10]))
    assert row["findable"] and row["num_nights_with_tracklet"] == 3


def test_two_nights_is_not_findable():
    assert not _findable(_tracklets([0, 5]))["findable"]


def test_window_edges():
    assert _findable(_tracklets([0, 7, 14]))["findable"]  # within 15 nights
    row = _findable(_tracklets([0, 8, 15]))  # spread over 16 nights
    assert not row["findable"] and row["max_tracklet_nights_in_window"] == 2
    assert _findable(_tracklets([0, 8, 15]), FindabilityRule(window_days=16))["findable"]


def test_three_of_many_nights_in_a_sliding_window():
    assert _findable(_tracklets([0, 20, 40, 41, 45, 80]))["findable"]


def test_slow_pairs_are_tracklets_unless_a_minimum_motion_is_asked():
    # No minimum motion by default: a slow object near its stationary point is findable.
    assert _findable(_tracklets([0, 5, 10], separation_arcsec=0.5))["findable"]
    rule = FindabilityRule(min_separation_arcsec=1.0)
    table = _tracklets([0, 5, 10], separation_arcsec=0.5)
    row = findable_objects(table, rule).iloc[0]
    assert not row["findable"] and row["num_nights_with_tracklet"] == 0


def test_too_long_pairs_are_not_tracklets():
    row = _findable(_tracklets([0, 5, 10], gap_minutes=91.0))
    assert not row["findable"] and row["num_nights_with_tracklet"] == 0
    assert _findable(_tracklets([0, 5, 10], gap_minutes=90.0))["findable"]


def test_night_is_computed_when_absent():
    row = _findable(_tracklets([0, 5, 10], with_night=False))
    assert row["findable"] and row["num_nights"] == 3


def test_min_observations_rule_and_noise_ignored():
    table = _tracklets([0, 1, 2])  # 6 detections
    noise = table.iloc[:2].assign(diaSourceId=[100, 101], object_id=None)
    table = pd.concat([table, noise], ignore_index=True)
    result = findable_objects(table, FindabilityRule(method="min_observations"))
    assert list(result["object_id"]) == ["a"]
    assert result.iloc[0]["findable"]
    assert not findable_objects(
        table, FindabilityRule(method="min_observations", min_observations=7)
    ).iloc[0]["findable"]


def test_completeness_counts_only_findable_objects():
    findable = pd.DataFrame({"object_id": ["a", "b", "c"], "findable": [True, True, False]})
    observations = pd.DataFrame(
        {"diaSourceId": np.arange(20), "object_id": ["a"] * 6 + ["b"] * 8 + ["c"] * 6}
    )
    # L1 pure a; L2 7 b + 1 c (12.5 % foreign: contaminated); L3 pure c (not findable).
    members = pd.DataFrame(
        {
            "linkage_id": ["L1"] * 6 + ["L2"] * 8 + ["L3"] * 6,
            "diaSourceId": [*range(6), *range(6, 13), 14, *range(14, 20)],
        }
    )
    classified = classify_linkages(members, observations, min_obs=5)
    summary = completeness(findable, classified)
    assert summary["num_findable"] == 2
    assert summary["num_found_pure"] == 1
    assert summary["num_found_contaminated"] == 1
    assert summary["completeness"] == pytest.approx(0.5)
    assert summary["completeness_with_contaminated"] == pytest.approx(1.0)
    assert (summary["num_pure"], summary["num_contaminated"], summary["num_mixed"]) == (2, 1, 0)
