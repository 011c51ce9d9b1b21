"""``sso link``: stages on disk, resuming, byte-identical reruns, the reports and the orbit file
read back by independent means (the project's readers, an ephemeris against the detections),
clear errors."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from references import ten_objects_detections

from ephemerides import ephemeris, read_orbits
from linking.mpc_formats import read_mpc80
from sso.cli import main

OUTPUTS = ("tracklets.parquet", "tracklet_members.parquet", "candidates.parquet",
           "candidate_members.parquet", "linkages.parquet", "members.parquet",
           "unlinked.parquet", "orbits.csv", "astrometry.mpc", "astrometry.psv", "summary.json",
           "stages.json")


@pytest.fixture
def detections_file(shared_data, tmp_path):
    table, truth = ten_objects_detections(shared_data)
    sim = pd.read_csv(shared_data / "linking" / "ten_objects_lsst.csv")
    table["mag"] = sim["observedPSFMag"].to_numpy()
    table["band"] = sim["optFilter"].to_numpy()
    path = tmp_path / "detections.parquet"
    table.to_parquet(path)
    return path, table, truth


def _timings(out):
    return json.loads((out / "timings.json").read_text())


def test_link_job_stages_resume_and_reports(detections_file, tmp_path, capsys):
    path, table, truth = detections_file
    out = tmp_path / "out"
    assert main(["link", "--detections", str(path), "--out", str(out),
                 "--stop-after", "tracklets"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["tracklets.parquet", "tracklet_members.parquet", "stages.json", "timings.json"])
    assert main(["link", "--detections", str(path), "--out", str(out)]) == 0
    timings = _timings(out)
    assert timings["tracklets"]["reused"] and not timings["search"]["reused"]
    assert {p.name for p in out.iterdir()} == set(OUTPUTS) | {"timings.json"}
    assert "10 new objects" in capsys.readouterr().err

    linkages = pd.read_parquet(out / "linkages.parquet")
    members = pd.read_parquet(out / "members.parquet")
    assert len(linkages) == 10 and linkages["designation"].is_unique
    assert linkages["designation"].str.fullmatch(r"S26E[0-9A-Za-z]{3}").all()  # 2026 Mar 1-15
    truth_of = truth.set_index("diaSourceId")["object_id"]
    assert members.groupby("linkage_id")["diaSourceId"].apply(
        lambda ids: truth_of.loc[ids].nunique()).eq(1).all()
    # H from the PSF magnitudes: the simulation's objects are bright main-belt asteroids.
    assert linkages["H"].between(10.0, 20.0).all()

    # The 80-column report reads back to the linked detections (times within 0.05 s, positions
    # within the format's rounding) under each linkage's designation.
    mpc = read_mpc80(out / "astrometry.mpc")
    assert len(mpc) == len(members)
    back = mpc.sort_values(["designation", "midpointMjdTai"], ignore_index=True)
    expected = members.merge(table, on="diaSourceId").sort_values(
        ["designation", "midpointMjdTai"], ignore_index=True)
    assert (back["designation"] == expected["designation"]).all()
    assert np.abs(back["midpointMjdTai"] - expected["midpointMjdTai"]).max() * 86400 < 0.05
    assert np.abs(back["dec"] - expected["dec"]).max() * 3600 < 0.006
    assert (mpc["observatoryCode"] == "X05").all()
    psv = (out / "astrometry.psv").read_text().splitlines()
    assert psv[0] == "# version=2022"
    rows = [line for line in psv if "|" in line]
    assert len(rows) == len(members) + 1 and rows[0].replace(" ", "").startswith("permID|")

    # The orbit file feeds the next night: read_orbits reads it and its ephemeris reproduces
    # every linked detection within 1".
    orbits = read_orbits(out / "orbits.csv")
    assert len(orbits) == 10 and (orbits["format"] == "CART").all()
    for designation, group in expected.groupby("designation"):
        eph = ephemeris(orbits[orbits["object_id"] == designation],
                        group["midpointMjdTai"].to_numpy(), observatory_code="X05",
                        time_scale="tai")
        cos_dec = np.cos(np.deg2rad(group["dec"].to_numpy()))
        offset = np.hypot((eph["ra_deg"].to_numpy() - group["ra"].to_numpy()) * cos_dec,
                          eph["dec_deg"].to_numpy() - group["dec"].to_numpy()) * 3600
        assert offset.max() < 1.0

    # A finished job run again reuses every stage and rewrites nothing.
    before = {name: (out / name).read_bytes() for name in OUTPUTS}
    assert main(["link", "--detections", str(path), "--out", str(out)]) == 0
    assert all(stage["reused"] for stage in _timings(out).values())
    assert {name: (out / name).read_bytes() for name in OUTPUTS} == before

    # A new fit setting redoes the fit stage only, and a fresh folder gives the same bytes.
    config = tmp_path / "link.toml"
    config.write_text("[fit]\nmax_rms_arcsec = 0.8\n")
    assert main(["link", "--detections", str(path), "--out", str(out),
                 "--config", str(config), "--submitter", "A. Astronomer",
                 "--telescope", "name=Rubin,design=Reflector,aperture=8.4,detector=CCD"]) == 0
    timings = _timings(out)
    assert timings["search"]["reused"] and not timings["fit"]["reused"]
    header = (out / "astrometry.psv").read_text().split("permID")[0].splitlines()
    assert header[header.index("# submitter") + 1] == "! name A. Astronomer"
    assert "! aperture 8.4" in header
    fresh = tmp_path / "fresh"
    assert main(["link", "--detections", str(path), "--out", str(fresh)]) == 0
    assert {name: (fresh / name).read_bytes() for name in OUTPUTS if name != "stages.json"} == {
        name: before[name] for name in OUTPUTS if name != "stages.json"}
    # A job killed while writing the fit stage's files (one missing) redoes that stage only.
    (fresh / "members.parquet").unlink()
    assert main(["link", "--detections", str(path), "--out", str(fresh)]) == 0
    timings = _timings(fresh)
    assert timings["search"]["reused"] and not timings["fit"]["reused"]
    assert (fresh / "members.parquet").read_bytes() == before["members.parquet"]


def test_link_job_on_a_process_pool_writes_the_same_files(detections_file, tmp_path):
    """The search's hypotheses on two worker processes: every output byte for byte as with the
    threads of one process, and the same fingerprints, so a rerun with the other executor
    reuses the search (here after a fit setting changed: the fit alone is redone)."""
    path, _, _ = detections_file
    threads, pool = tmp_path / "threads", tmp_path / "pool"
    assert main(["link", "--detections", str(path), "--out", str(threads), "--grid", "mb"]) == 0
    assert main(["link", "--detections", str(path), "--out", str(pool), "--grid", "mb",
                 "--executor", "processes", "--workers", "2"]) == 0
    assert len(pd.read_parquet(pool / "linkages.parquet")) == 10
    expected = {name: (threads / name).read_bytes() for name in OUTPUTS}
    assert {name: (pool / name).read_bytes() for name in OUTPUTS} == expected
    config = tmp_path / "link.toml"
    config.write_text("[fit]\nmax_rms_arcsec = 0.8\n")
    assert main(["link", "--detections", str(path), "--out", str(pool), "--grid", "mb",
                 "--config", str(config), "--executor", "serial"]) == 0
    timings = _timings(pool)
    assert timings["search"]["reused"] and not timings["fit"]["reused"]
    stages = json.loads((pool / "stages.json").read_text())
    assert stages["search"] == json.loads(expected["stages.json"])["search"]


def test_link_job_errors_name_the_problem_and_write_nothing(detections_file, tmp_path,
                                                            capsys):
    path, _, _ = detections_file
    config = tmp_path / "bad.toml"
    config.write_text("[fit]\nmax_rms = 1.0\n")
    out = tmp_path / "out"
    assert main(["link", "--detections", str(path), "--out", str(out),
                 "--config", str(config)]) == 2
    assert f"linking settings {config}: unknown setting [fit] 'max_rms'" in \
        capsys.readouterr().err
    assert main(["link", "--detections", str(path), "--out", str(out), "--grid", "asteroids"]) == 2
    assert "unknown hypothesis grid 'asteroids'" in capsys.readouterr().err
    assert main(["link", "--detections", str(tmp_path / "none.parquet"), "--out", str(out)]) == 2
    assert "--detections" in capsys.readouterr().err
    assert main(["link", "--detections", str(path), "--out", str(out), "--prefix", "K"]) == 2
    assert not out.exists()


def test_config_file_of_the_docs_is_read(tmp_path):
    """The example TOML of the linking guide (docs/guides/linking.md) sets the fields it names
    and keeps the other defaults."""
    from linking import LinkingConfig
    from sso.linkjob import read_link_config

    guide = (Path(__file__).resolve().parents[1] / "docs" / "guides" / "linking.md").read_text()
    example = guide.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "link.toml"
    path.write_text(example)
    config = read_link_config(path)
    assert config.hypotheses == "mb+neo" and config.fit.max_rms_arcsec == 1.0
    assert config.tracklets.max_rate_deg_per_day == 1.5
    assert abs(config.cluster_radius_au_at_1au - LinkingConfig().cluster_radius_au_at_1au) < 1e-8
    assert config.min_nights == LinkingConfig().min_nights


def test_a_job_without_new_objects_writes_typed_empty_tables(detections_file, tmp_path):
    """The first night's detections alone (a linkage needs three nights): no linkage, and the
    empty tables keep the column types of full ones (a later reader concatenates them)."""
    _, table, _ = detections_file
    few = table[table["midpointMjdTai"] < table["midpointMjdTai"].min() + 1.0]
    few.to_parquet(tmp_path / "few.parquet")
    assert main(["link", "--detections", str(tmp_path / "few.parquet"), "--grid", "mb",
                 "--out", str(tmp_path / "out")]) == 0
    linkages = pd.read_parquet(tmp_path / "out" / "linkages.parquet")
    members = pd.read_parquet(tmp_path / "out" / "members.parquet")
    assert len(linkages) == len(members) == 0
    assert pd.api.types.is_string_dtype(linkages["designation"])
    assert pd.api.types.is_string_dtype(members["designation"])
    assert linkages["x_au"].dtype == np.float64 and members["diaSourceId"].dtype == np.int64
