"""Provenance in every Parquet file the toolkit writes (ephemerides.provenance, ``sso info``):
the version, the command and function, the settings that determine the result, the inputs'
and kernels' checksums computed independently here (hashlib), and nothing that changes from
run to run, so that outputs stay byte for byte the same."""

import hashlib
import importlib.metadata
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ephemerides import NightlyCache, read_orbits
from ephemerides.provenance import (
    fingerprint,
    read_provenance,
    recording,
    table_fingerprint,
)
from ephemerides.spk import asteroid_kernel, default_planetary_kernel
from sso.cli import main

SAMPLE = """ObjID FORMAT a e inc node argPeri ma epochMJD_TDB H G
SynMBA01 KEP 2.71 0.08 10.4 80.3 15.9 230.4 61000.0 15.2 0.15
SynNEO01 KEP 1.47 0.56 7.9 35.4 270.1 120.8 61000.0 17.6 0.15
"""


def _sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def orbit_file(tmp_path):
    path = tmp_path / "orbits.des"
    path.write_text(SAMPLE)
    return path


def test_a_command_writes_what_made_its_file(orbit_file, tmp_path, capsys):
    out = tmp_path / "eph.parquet"
    assert main(["ephemeris", "--orbits", str(orbit_file), "--times", "61000:61001:0.5",
                 "--observatory", "W84", "--method", "2body", "--out", str(out)]) == 0
    record = read_provenance(out)
    assert record["toolkit"] == "sso-toolkit"
    assert record["version"] == importlib.metadata.version("sso-toolkit")
    assert record["command"] == "sso ephemeris"
    assert record["settings"]["observatory"] == "W84"
    assert record["settings"]["method"] == "2body"
    assert "out" not in record["settings"] and "orbits" not in record["settings"]
    assert record["inputs"] == {"orbits": {"file": "orbits.des",
                                           "fingerprint": "sha256:" + _sha256(orbit_file)}}
    kernels = {Path(default_planetary_kernel()).name: _sha256(default_planetary_kernel())}
    if asteroid_kernel() is not None:
        kernels[Path(asteroid_kernel()).name] = _sha256(asteroid_kernel())
    assert record["kernels"] == kernels
    assert record["libraries"]["numpy"] == np.__version__
    # The table itself is untouched; `sso info` prints the record.
    assert len(pd.read_parquet(out)) == 2 * 3
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"{out}: 6 rows, ")
    assert json.loads(printed[printed.index("{"):]) == record


def test_the_same_run_elsewhere_writes_the_same_bytes(orbit_file, tmp_path):
    """Nothing that changes between runs (a date, the output folder, the executor) is kept."""
    files = []
    for name in ("one", "two"):
        folder = tmp_path / name
        folder.mkdir()
        assert main(["ephemeris", "--orbits", str(orbit_file), "--times", "61000",
                     "--method", "2body", "--out", str(folder / "eph.parquet")]) == 0
        files.append((folder / "eph.parquet").read_bytes())
    assert files[0] == files[1]


def test_info_refuses_what_carries_no_provenance(orbit_file, tmp_path, capsys):
    csv = tmp_path / "eph.csv"
    assert main(["ephemeris", "--orbits", str(orbit_file), "--times", "61000",
                 "--method", "2body", "--out", str(csv)]) == 0
    plain = tmp_path / "plain.parquet"
    pd.DataFrame({"a": [1, 2]}).to_parquet(plain)
    for path, message in ((csv, "is not a Parquet file"), (plain, "carries no provenance"),
                          (tmp_path / "none.parquet", "does not exist")):
        capsys.readouterr()
        assert main(["info", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("sso info: error:") and message in err and str(path) in err
        assert len(err.splitlines()) == 1


def test_version_option(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == (
        f"sso-toolkit {importlib.metadata.version('sso-toolkit')}")


def test_a_nightly_cache_records_its_build_not_the_run_that_made_it(orbit_file, tmp_path):
    """A cache outlives its run (later nights reuse it): its provenance names the cache's own
    parameters and no command, even when written inside one."""
    orbits = read_orbits(orbit_file)
    cache = NightlyCache.build(orbits, 61000.98, 61001.45, "X05")
    with recording("a.run", {"radius": 1.0}, {"orbits": orbit_file}, command="sso night"):
        cache.save(tmp_path / "cache.parquet")
    record = read_provenance(tmp_path / "cache.parquet")
    assert record["command"] is None and record["function"] == "ephemerides.NightlyCache.save"
    assert record["inputs"] == {}
    assert record["settings"]["cache"]["observatory_code"] == "X05"


def test_recordings_nest(orbit_file, tmp_path):
    """A library entry point inside a command keeps the command, adds its settings, and keeps
    a file's fingerprint for a role the command already fingerprinted."""
    from sso.io import write_table_atomic

    table = pd.DataFrame({"x": [1.0, 2.0]})
    with (recording("sso.cli.main", {"seed": 3}, {"orbits": orbit_file}, command="sso demo"),
          recording("sso.demo.run_demo", {"nights": 4}, {"orbits": table, "visits": table})):
        write_table_atomic(table, tmp_path / "t.parquet")
    record = read_provenance(tmp_path / "t.parquet")
    assert record["command"] == "sso demo" and record["function"] == "sso.demo.run_demo"
    assert record["settings"] == {"seed": 3, "nights": 4}
    assert record["inputs"]["orbits"]["file"] == "orbits.des"
    assert record["inputs"]["visits"] == {"table": "2 rows",
                                          "fingerprint": table_fingerprint(table)}
    # Outside any run the writer names itself.
    write_table_atomic(table, tmp_path / "u.parquet")
    assert read_provenance(tmp_path / "u.parquet")["function"] == "sso.io.write_table_atomic"


def test_table_fingerprint_ignores_order_and_sees_every_value():
    rng = np.random.default_rng(5)
    table = pd.DataFrame({"id": np.arange(50), "ra": rng.uniform(0, 360, 50),
                          "name": [f"S{k}" for k in range(50)],
                          "covariance": [rng.normal(size=36) for _ in range(50)]})
    shuffled = table.sample(frac=1.0, random_state=2)[["ra", "covariance", "id", "name"]]
    assert table_fingerprint(shuffled) == table_fingerprint(table)
    for column, value in (("ra", 1.0), ("name", "other"), ("covariance", np.zeros(36))):
        changed = table.copy()
        changed.at[17, column] = value
        assert table_fingerprint(changed) != table_fingerprint(table)
    assert table_fingerprint(table.astype({"id": "float64"})) != table_fingerprint(table)


def test_folder_fingerprint_follows_its_files(tmp_path):
    (tmp_path / "night=1").mkdir()
    (tmp_path / "night=1" / "part-0.parquet").write_bytes(b"abc")
    first = fingerprint(tmp_path)
    (tmp_path / ".lock").write_text("held")  # hidden files are not data
    assert fingerprint(tmp_path) == first
    (tmp_path / "night=1" / "part-0.parquet").write_bytes(b"abd")
    assert fingerprint(tmp_path) != first
    assert fingerprint(tmp_path / "absent") == "missing"
    assert fingerprint(tmp_path / "night=1" / "part-0.parquet") == (
        "sha256:" + hashlib.sha256(b"abd").hexdigest())
