"""The ``sso`` command line: ephemeris output files, clear errors, nothing written on failure."""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ephemerides import EPHEMERIS_COLUMNS
from ephemerides.schemas import EPHEMERIS
from sso.cli import main

SAMPLE = """ObjID FORMAT a e inc node argPeri ma epochMJD_TDB H G
SynMBA01 KEP 2.71 0.08 10.4 80.3 15.9 230.4 61000.0 15.2 0.15
SynNEO01 KEP 1.47 0.56 7.9 35.4 270.1 120.8 61000.0 17.6 0.15
"""


@pytest.fixture
def orbit_file(tmp_path):
    path = tmp_path / "orbits.des"
    path.write_text(SAMPLE)
    return path


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_ephemeris_writes_table(orbit_file, tmp_path, suffix):
    out = tmp_path / f"eph{suffix}"
    status = main(["ephemeris", "--orbits", str(orbit_file), "--times", "61000:61001:0.5",
                   "61002.25", "--observatory", "W84", "--out", str(out)])
    assert status == 0
    table = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
    assert list(table.columns) == list(EPHEMERIS_COLUMNS)
    if suffix == ".parquet":  # the declared schema, dtypes and ranges, holds as written
        pd.testing.assert_frame_equal(EPHEMERIS.check(table), table)
    assert len(table) == 2 * 4
    assert set(table["observatory_code"]) == {"W84"}
    assert np.allclose(sorted(set(table["mjd_utc"].round(9))), [61000.0, 61000.5, 61001.0,
                                                                61002.25])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--times", "61000", "--observatory", "ZZZ"], "ZZZ"),
        (["--times", "tomorrow"], "--times value 'tomorrow'"),
        # A mistyped range is refused before any time is made.
        (["--times", "61000:71000:0.001"], "makes 10,000,001 times or more, above --max-times"),
        (["--times", "61000:61010:0.01", "--max-rows", "1000"],
         "2 orbits at 1,001 times make 2,002 rows, more than --max-rows 1,000"),
        (["--times", "61000", "--method", "2body", "--time-scale", "tdb", "--max-times", "5",
          "--times", "1e9"], "de440.bsp"),
    ],
)
def test_bad_input_one_line_nothing_written(orbit_file, tmp_path, capsys, args, message):
    out = tmp_path / "eph.parquet"
    status = main(["ephemeris", "--orbits", str(orbit_file), "--out", str(out), *args])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert list(tmp_path.iterdir()) == [orbit_file]


def test_missing_orbit_file_and_bad_suffix(tmp_path, capsys):
    assert main(["ephemeris", "--orbits", str(tmp_path / "none.des"), "--times", "61000",
                 "--out", str(tmp_path / "e.parquet")]) == 2
    assert "none.des" in capsys.readouterr().err
    assert main(["ephemeris", "--orbits", str(tmp_path / "none.des"), "--times", "61000",
                 "--out", str(tmp_path / "e.txt")]) == 2
    assert ".parquet" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_demo_runs_the_survey_and_scores_it(tmp_path, capsys):
    """A small demo (8 nights, 200 main-belt + 10 NEO objects): the table, the summary and the
    plots; catalogued objects are associated, withheld ones discovered, against the truth."""
    import json

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--nights", "8", "--n-mba", "200",
                 "--n-neo", "10"]) == 0
    table = capsys.readouterr().out
    assert "known objects (catalogue)" in table and "findable objects discovered" in table
    summary = json.loads((out / "demo_summary.json").read_text())
    assert summary["known"]["recall"] >= 0.99 and summary["known"]["false_associations"] == 0
    assert summary["new"]["findable"] >= 10
    assert summary["new"]["completeness"] >= 0.9 and summary["new"]["purity"] == 1.0
    for name in ("visit_sky_map.png", "linking_completeness.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_output_file_has_ordinary_permissions(orbit_file, tmp_path):
    import stat

    out = tmp_path / "eph.csv"
    assert main(["ephemeris", "--orbits", str(orbit_file), "--times", "61000",
                 "--out", str(out)]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_observatory_codes_are_read_as_the_mpc_writes_them(orbit_file, tmp_path):
    out = tmp_path / "eph.parquet"
    assert main(["ephemeris", "--orbits", str(orbit_file), "--times", "61000",
                 "--observatory", "x05", "--out", str(out)]) == 0
    assert set(pd.read_parquet(out)["observatory_code"]) == {"X05"}


def test_a_defect_is_an_internal_error_not_bad_input(orbit_file, tmp_path, capsys, monkeypatch):
    """Bad input exits 2 with its message; anything else is reported as an internal error,
    exit 1, its traceback with -v."""
    import ephemerides

    def broken(*args, **kwargs):
        raise ValueError("a library's own ValueError")

    monkeypatch.setattr(ephemerides, "ephemeris", broken)
    args = ["ephemeris", "--orbits", str(orbit_file), "--times", "61000",
            "--out", str(tmp_path / "e.parquet")]
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err == ("sso ephemeris: internal error: ValueError: a library's own ValueError "
                   "(run again with -v for the traceback)")
    assert main(["-v", *args]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err
    assert not (tmp_path / "e.parquet").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--nights", "2"], "nights must be an integer >= 3"),
    (["--n-neo", "-1"], "--n-neo must be an integer >= 0"),  # in the option's words
    (["--seed", "-1"], "seed must be a non-negative integer; got -1"),
])
def test_demo_options_are_checked_before_the_work(tmp_path, capsys, args, message):
    assert main(["demo", "--out", str(tmp_path / "d"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_output_location_that_cannot_be_written_is_refused_before_the_work(orbit_file,
                                                                             capsys):
    """/proc takes no new files, whoever asks (root included): refused at once, named."""
    assert main(["simulate", "--synthetic", "5", "--synthetic-cadence",
                 "--out", "/proc/sim"]) == 2
    assert "--out /proc/sim: cannot write in /proc" in capsys.readouterr().err
    assert main(["ephemeris", "--orbits", str(orbit_file), "--times", "61000",
                 "--out", "/proc/e.parquet"]) == 2
    assert "output file /proc/e.parquet: cannot write in /proc" in capsys.readouterr().err


def test_damaged_or_misplaced_files_are_named(orbit_file, tmp_path, capsys):
    """A file that is not what its suffix says, or a folder given for a file: exit 2 with its
    name, not the reader library's exception."""
    fake = tmp_path / "fake.parquet"
    fake.write_text("not parquet")
    cases = [
        (["ephemeris", "--orbits", str(fake), "--times", "61000", "--out",
          str(tmp_path / "e.parquet")], f"orbit file {fake} cannot be read as Parquet"),
        (["ephemeris", "--orbits", str(tmp_path), "--times", "61000", "--out",
          str(tmp_path / "e.parquet")], f"orbit file {tmp_path} is a folder"),
        (["link", "--detections", str(fake), "--out", str(tmp_path / "l")],
         f"--detections {fake} cannot be read as Parquet"),
        (["simulate", "--synthetic", "5", "--synthetic-cadence", "--seed", "-1", "--out",
          str(tmp_path / "s")], "seed must be a non-negative integer"),
    ]
    for args, message in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.parquet", "orbits.des"]


def test_invalid_orbit_rows_are_refused_or_skipped_as_the_option_says(tmp_path, capsys):
    orbits = tmp_path / "orbits.des"
    orbits.write_text(SAMPLE.replace("SynNEO01 KEP 1.47 0.56", "SynNEO01 KEP 1.47 x"))
    out = tmp_path / "eph.csv"
    args = ["ephemeris", "--orbits", str(orbits), "--times", "61000", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "pass --errors='skip' to drop such rows" in err and "line 3, column e" in err
    assert not out.exists()
    assert main([*args, "--errors", "skip"]) == 0
    assert pd.read_csv(out)["object_id"].tolist() == ["SynMBA01"]


def test_dates_beyond_the_earth_orientation_table_give_one_line_of_our_own(orbit_file,
                                                                           tmp_path):
    """2035 lies after ERFA's leap-second table and astropy-iers-data's Earth orientation:
    no ERFA or astropy warnings, one line of ours saying what was used instead."""
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-m", "sso.cli", "ephemeris", "--orbits", str(orbit_file),
         "--times", "2035-01-01T00:00:00", "2035-01-02", "--out", str(tmp_path / "e.csv")],
        capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert "2 of 2 observation time(s) fall after the Earth orientation table" in lines[0]
    assert len(pd.read_csv(tmp_path / "e.csv")) == 2 * 2  # two orbits, two times
