"""DIASource datasets partitioned by night (and sky pixel): the layout on disk, lazy reads that
open only the nights and row groups asked for, the same rows back, and clear errors."""

import healpy as hp
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import sso.io
from sso.cadence import night_of, synthetic_cadence
from sso.cli import main
from sso.io import (
    is_diasource_dataset,
    read_diasource_dataset,
    read_diasources,
    write_diasource_dataset,
)


@pytest.fixture(scope="module")
def survey():
    """Three nights of visits, 40 DIASources each, in scrambled row order."""
    visits = synthetic_cadence(6, nights=3, start_mjd=61000.0, center=(150.0, 10.0),
                               fields_ra=3, fields_dec=2)
    rng = np.random.default_rng(7)
    visit = np.repeat(visits["observationId"].to_numpy(), 40)
    start = np.repeat(visits["observationStartMJD"].to_numpy(), 40)
    table = pd.DataFrame({
        "diaSourceId": rng.permutation(visit.size).astype(np.int64) * 3 + 11,
        "visit": visit,
        "midpointMjdTai": start + 15.0 / 86400.0,
        "ra": rng.uniform(140.0, 160.0, visit.size),
        "dec": rng.uniform(0.0, 20.0, visit.size),
        "band": rng.choice(["g", "r", "i"], visit.size),
    })
    return visits, table.sample(frac=1.0, random_state=3).reset_index(drop=True)


def _sorted(table):
    return table.sort_values(["visit", "diaSourceId"], ignore_index=True)


def test_nights_partition_and_read_back(survey, tmp_path):
    _, table = survey
    files = write_diasource_dataset(table, tmp_path / "ds")
    nights = np.unique(night_of(table["midpointMjdTai"].to_numpy()))
    assert nights.size == 3
    assert [f.relative_to(tmp_path / "ds").as_posix() for f in files] == [
        f"night={n}/part-0.parquet" for n in nights]
    assert is_diasource_dataset(tmp_path / "ds") and not is_diasource_dataset(tmp_path)
    pd.testing.assert_frame_equal(read_diasource_dataset(tmp_path / "ds"), _sorted(table))
    one = read_diasource_dataset(tmp_path / "ds", nights=[nights[1]])
    in_night = night_of(table["midpointMjdTai"].to_numpy()) == nights[1]
    pd.testing.assert_frame_equal(one, _sorted(table[in_night]))
    pd.testing.assert_frame_equal(read_diasources(tmp_path / "ds", "--x", nights=[nights[1]]),
                                  one)
    # Only the night asked for is opened: another night's broken file does not matter.
    (tmp_path / "ds" / f"night={nights[0]}" / "part-0.parquet").write_bytes(b"not parquet")
    pd.testing.assert_frame_equal(read_diasource_dataset(tmp_path / "ds", nights=[nights[1]]),
                                  one)


def test_visits_are_read_from_their_own_row_groups(survey, tmp_path, monkeypatch):
    _, table = survey
    monkeypatch.setattr(sso.io, "ROW_GROUP_ROWS", 40)
    (path,) = write_diasource_dataset(table[table["visit"] < 6], tmp_path / "ds")
    metadata = pq.ParquetFile(path).metadata
    assert metadata.num_row_groups == 6
    visit_column = metadata.schema.names.index("visit")
    ranges = [(metadata.row_group(g).column(visit_column).statistics.min,
               metadata.row_group(g).column(visit_column).statistics.max) for g in range(6)]
    assert ranges == [(v, v) for v in range(6)]  # statistics let a reader skip other visits
    got = read_diasource_dataset(tmp_path / "ds", visits=[4, 2], columns=["diaSourceId", "ra"])
    expected = _sorted(table[table["visit"].isin([2, 4])])
    assert list(got.columns) == ["diaSourceId", "ra"]
    np.testing.assert_array_equal(got["diaSourceId"], expected["diaSourceId"])
    np.testing.assert_array_equal(got["ra"], expected["ra"])


def test_sky_pixels_hold_whole_visits(survey, tmp_path):
    visits, table = survey
    files = write_diasource_dataset(table, tmp_path / "ds", visits, sky_nside=8)
    boresight = visits.set_index("observationId")
    for path in files:
        part = pd.read_parquet(path)
        pixel = int(path.parent.name.split("=")[1])
        night = int(path.parent.parent.name.split("=")[1])
        ra = boresight.loc[part["visit"], "fieldRA"].to_numpy()
        dec = boresight.loc[part["visit"], "fieldDec"].to_numpy()
        theta = np.deg2rad(90.0 - dec)
        assert (hp.vec2pix(8, *hp.ang2vec(theta, np.deg2rad(ra)).T, nest=True) == pixel).all()
        assert (night_of(part["midpointMjdTai"].to_numpy()) == night).all()
    assert len({p.parent.name for p in files}) > 1
    pd.testing.assert_frame_equal(read_diasource_dataset(tmp_path / "ds"), _sorted(table))


def test_rewriting_a_night_replaces_it_alone(survey, tmp_path):
    _, table = survey
    write_diasource_dataset(table, tmp_path / "ds")
    nights = night_of(table["midpointMjdTai"].to_numpy())
    last = table[nights == nights.max()].iloc[:5]
    write_diasource_dataset(last, tmp_path / "ds")
    pd.testing.assert_frame_equal(read_diasource_dataset(tmp_path / "ds"),
                                  _sorted(pd.concat([table[nights < nights.max()], last])))
    assert not list((tmp_path / "ds").rglob(".*.tmp"))


def test_bad_datasets_and_arguments_say_what_is_wrong(survey, tmp_path):
    visits, table = survey
    with pytest.raises(ValueError, match=r"lack columns \['visit'\]"):
        write_diasource_dataset(table.drop(columns="visit"), tmp_path / "a")
    with pytest.raises(ValueError, match="needs the visit table"):
        write_diasource_dataset(table, tmp_path / "a", sky_nside=8)
    with pytest.raises(ValueError, match="power of two"):
        write_diasource_dataset(table, tmp_path / "a", visits, sky_nside=6)
    with pytest.raises(ValueError, match="visit 0 have no row"):
        write_diasource_dataset(table, tmp_path / "a", visits.iloc[1:], sky_nside=8)
    assert not (tmp_path / "a").exists()
    with pytest.raises(ValueError, match="not a DIASource dataset"):
        read_diasource_dataset(tmp_path)
    write_diasource_dataset(table, tmp_path / "ds")
    with pytest.raises(ValueError, match=r"no columns \['flux'\]"):
        read_diasource_dataset(tmp_path / "ds", columns=["ra", "flux"])
    with pytest.raises(ValueError, match="neither diasources"):
        read_diasources(tmp_path / "ds" / f"night={night_of(61000.5)}", "--diasources")


def test_sso_simulate_writes_the_dataset_of_its_table(tmp_path, capsys):
    out = tmp_path / "sim"
    assert main(["simulate", "--synthetic", "300", "--synthetic-cadence", "--nights", "2",
                 "--dataset", "--sky-nside", "4", "--out", str(out)]) == 0
    table = pd.read_parquet(out / "diasources.parquet")
    assert len(table) > 100
    assert len(list((out / "diasources").glob("night=*/pixel=*/part-0.parquet"))) >= 2
    pd.testing.assert_frame_equal(read_diasources(out / "diasources", "--diasources"),
                                  _sorted(table))
    capsys.readouterr()
    assert main(["simulate", "--synthetic", "3", "--synthetic-cadence", "--sky-nside", "4",
                 "--out", str(tmp_path / "other")]) == 2
    assert "give both" in capsys.readouterr().err and not (tmp_path / "other").exists()
