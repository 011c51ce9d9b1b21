"""The ``sso`` command line: ephemeris output files, clear errors, nothing written on failure."""

import numpy as np
import pandas as pd
import pytest

from ephemerides import EPHEMERIS_COLUMNS
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
    assert len(table) == 2 * 4
    assert set(table["observatory_code"]) == {"W84"}
    assert np.allclose(sorted(set(table["mjd_utc"].round(9))), [61000.0, 61000.5, 61001.0,
                                                                61002.25])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--times", "61000", "--observatory", "ZZZ"], "ZZZ"),
        (["--times", "tomorrow"], "--times value 'tomorrow'"),
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


def test_demo_prints_table(capsys):
    assert main(["demo", "--date", "2026-11-25"]) == 0
    out = capsys.readouterr().out
    assert "Rubin Observatory (X05)" in out
    assert "SynTNO02" in out and "12 sample orbits" in out


def test_output_file_has_ordinary_permissions(orbit_file, tmp_path):
    import os
    import stat

    out = tmp_path / "eph.csv"
    assert main(["ephemeris", "--orbits", str(orbit_file), "--times", "61000",
                 "--out", str(out)]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask
