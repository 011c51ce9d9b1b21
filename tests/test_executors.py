"""Executors: results in unit order and identical whatever runs them (serial, a process pool,
a Dask LocalCluster of processes, 1 or 2 workers); the nightly cache built in units equals, byte
for byte, across executors; a worker that dies mid-unit costs a retry, not a result."""

import json
import os
import pickle
import signal
import threading
import time

import numpy as np
import pandas as pd
import psutil
import pytest
from astropy.time import Time

import sso.association
from ephemerides import NightlyCache
from linking import LinkingConfig
from sso.cadence import night_of, opposition_radec, synthetic_cadence
from sso.cli import main
from sso.executors import make_executor
from sso.io import write_diasource_dataset
from sso.night import NightSettings, run_night
from sso.population import field_population
from sso.simulate import simulate
from sso.workunits import build_cache


def _square(x):
    return x * x


def _die_once(args):
    """Kills its worker process the first time a marker file is absent (a lost worker)."""
    marker, value = args
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return value * 10


@pytest.fixture(scope="module")
def orbits():
    population, _ = field_population({"mba": 150, "neo": 10}, opposition_radec(61000.0), 2.0,
                                      61000.5, seed=3)
    return population


@pytest.mark.parametrize(("kind", "workers"), [("serial", None), ("processes", 1),
                                               ("processes", 2), ("dask", 2)])
def test_map_keeps_unit_order(kind, workers):
    with make_executor(kind, workers) as executor:
        assert executor.map(_square, range(23)) == [k * k for k in range(23)]


def test_cache_built_in_units_is_identical_on_every_executor(orbits, tmp_path):
    start, end = 61000.98, 61001.45
    saved = {}
    for kind, workers in (("serial", None), ("processes", 2), ("dask", 2), ("dask", 1)):
        with make_executor(kind, workers) as executor:
            cache = build_cache(orbits, start, end, "X05", executor, unit_orbits=40)
        path = tmp_path / f"{kind}{workers}.parquet"
        cache.save(path)
        saved[(kind, workers)] = path.read_bytes()
    assert len(set(saved.values())) == 1
    # The joined cache answers like one built from the whole table, to the fit tolerance.
    whole = build_cache(orbits, start, end, "X05", unit_orbits=len(orbits))
    parts = build_cache(orbits, start, end, "X05", unit_orbits=40)
    assert list(parts.objects["object_id"]) == list(orbits["object_id"])
    a = whole.query(55.0, 19.0, 3.0, 61001.2).set_index("object_id").sort_index()
    b = parts.query(55.0, 19.0, 3.0, 61001.2).set_index("object_id").sort_index()
    assert list(a.index) == list(b.index) and len(a) > 50
    separation = np.hypot((a["ra_deg"] - b["ra_deg"]) * np.cos(np.deg2rad(a["dec_deg"])),
                          a["dec_deg"] - b["dec_deg"]) * 3.6e6
    assert separation.max() < 1.0  # mas


def test_cache_parts_committed_by_units_resume_and_read_back(orbits, tmp_path, monkeypatch):
    """Each unit commits its part; the manifest comes last; a build stopped half-way redoes only
    the missing parts, a changed orbit only its own part; the folder reads back the cache."""
    start, end = 61000.98, 61001.45
    folder = tmp_path / "cache"
    cache = build_cache(orbits, start, end, "X05", unit_orbits=40, folder=folder)
    assert sorted(p.name for p in folder.iterdir()) == [
        "cache.json", "part-00000.parquet", "part-00001.parquet", "part-00002.parquet",
        "part-00003.parquet"]
    cache.save(tmp_path / "whole.parquet")
    NightlyCache.load(folder, orbits, night_start_mjd_tai=start, night_end_mjd_tai=end,
                      observatory_code="X05").save(tmp_path / "again.parquet")
    assert (tmp_path / "again.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()

    builds = []
    real_build = NightlyCache.build

    def counted(table, *args, **kwargs):
        builds.append(list(table["object_id"]))
        return real_build(table, *args, **kwargs)

    monkeypatch.setattr(NightlyCache, "build", counted)
    # Stopped after two units: no manifest, so the folder is not a cache yet.
    (folder / "cache.json").unlink()
    (folder / "part-00002.parquet").unlink()
    (folder / "part-00003.parquet").unlink()
    with pytest.raises(ValueError, match=r"no cache\.json.*interrupted"):
        NightlyCache.load(folder)
    resumed = build_cache(orbits, start, end, "X05", unit_orbits=40, folder=folder)
    assert builds == [list(orbits["object_id"][80:120]), list(orbits["object_id"][120:])]
    resumed.save(tmp_path / "resumed.parquet")
    assert (tmp_path / "resumed.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()
    # Another orbit in unit 1: that part alone is built again, and the manifest follows.
    builds.clear()
    changed = orbits.copy()
    changed.loc[45, "H"] += 1.0
    build_cache(changed, start, end, "X05", unit_orbits=40, folder=folder)
    assert builds == [list(orbits["object_id"][40:80])]
    with pytest.raises(ValueError, match="stale nightly cache"):
        NightlyCache.load(folder, orbits)
    assert NightlyCache.load(folder, changed).objects["H"][45] == changed["H"][45]
    # Fewer, larger units: the old parts go; a part that does not match its manifest is refused.
    build_cache(orbits, start, end, "X05", unit_orbits=100, folder=folder)
    assert sorted(p.name for p in folder.glob("part-*")) == ["part-00000.parquet",
                                                             "part-00001.parquet"]
    (folder / "part-00001.parquet").unlink()
    (folder / "part-00000.parquet").rename(folder / "part-00001.parquet")
    real_build(orbits.iloc[:7], start, end).save(folder / "part-00000.parquet")
    with pytest.raises(ValueError, match="do not hold the objects"):
        NightlyCache.load(folder)


@pytest.mark.parametrize("kind", ["processes", "dask"])
def test_a_lost_worker_is_replaced_and_its_unit_rerun(kind, tmp_path):
    marker = str(tmp_path / "died")
    with make_executor(kind, 2) as executor:
        assert executor.map(_die_once, [(marker, k) for k in range(6)]) == [
            k * 10 for k in range(6)]
    assert os.path.exists(marker)


def test_bad_executor_settings():
    with pytest.raises(ValueError, match="executor must be one of serial, processes, dask"):
        make_executor("threads")
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        make_executor("processes", 0)
    with pytest.raises(ValueError, match=r"scheduler=.* it needs the Dask executor"):
        make_executor("processes", 2, scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="unit_orbits must be an integer >= 1"):
        build_cache(None, 0.0, 0.1, unit_orbits=0)


def test_associate_on_dask_writes_the_serial_files(orbits, tmp_path, monkeypatch):
    """``sso associate --executor dask`` (and processes) write the very files of the serial run,
    with the cache and the visits (one per unit here) spread over two workers."""
    monkeypatch.setattr(sso.association, "VISITS_PER_UNIT", 1)
    center = opposition_radec(61000.0)
    visits = synthetic_cadence(4, nights=1, start_mjd=61000.0, center=center, fields_ra=1,
                               fields_dec=1)
    sim = simulate(orbits, visits, 4, noise_per_deg2=20.0)
    sim.visits.to_parquet(tmp_path / "visits.parquet")
    sim.diasources.to_parquet(tmp_path / "diasources.parquet")
    orbits.to_parquet(tmp_path / "orbits.parquet")
    files = {}
    for kind in ("serial", "dask", "processes"):
        out = tmp_path / kind
        assert main(["associate", "--visits", str(tmp_path / "visits.parquet"),
                     "--diasources", str(tmp_path / "diasources.parquet"),
                     "--orbits", str(tmp_path / "orbits.parquet"), "--out", str(out),
                     "--executor", kind, "--workers", "2", "--unit-orbits", "50"]) == 0
        files[kind] = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
                       if p.is_file()}
    assert files["serial"] == files["dask"] == files["processes"]
    assert "cache/part-00001.parquet" in files["serial"]  # a part per unit, committed by its worker
    assert pd.read_parquet(tmp_path / "serial" / "sssources.parquet").shape[0] > 50
    assert sim.visits["observationId"].nunique() > 1


def test_the_part_of_a_cache_near_some_fields_answers_their_queries_alike(orbits):
    cache = build_cache(orbits, 61000.98, 61001.45, "X05")
    centres = ([54.5, 56.0], [19.5, 20.5])
    part = cache.near(*centres, 2.0)
    assert 0 < len(part.objects) < len(cache.objects)
    # As a worker receives it: pickled without its index, rebuilt on arrival.
    shipped = pickle.dumps(part)
    assert len(shipped) < len(pickle.dumps(part.__dict__))
    part = pickle.loads(shipped)
    for ra, dec in zip(*centres, strict=True):
        for t in (61001.0, 61001.3):
            pd.testing.assert_frame_equal(part.query(ra, dec, 2.0, t), cache.query(ra, dec, 2.0, t))
            pd.testing.assert_frame_equal(part.query(ra, dec, 1.0, t), cache.query(ra, dec, 1.0, t))


def _kill_a_worker_once(folder, killed):
    """Kills (SIGKILL) one Dask worker process as soon as the first cache part is in ``folder``."""
    for _ in range(6000):
        if list(folder.glob("nights/*/cache/part-*.parquet")):
            workers = [p for p in psutil.Process().children(recursive=True)
                       if "spawn_main" in " ".join(p.cmdline())]
            if workers:
                workers[0].send_signal(signal.SIGKILL)
                killed.append(workers[0].pid)
            return
        time.sleep(0.005)


def test_nights_on_dask_from_a_dataset_with_a_killed_worker_match_serial(orbits, tmp_path,
                                                                        monkeypatch):
    """Three nights through ``run_night`` on a Dask LocalCluster of 2 workers, the DIASources
    read from a dataset partitioned by night (one visit per association unit, each read by its
    worker), one worker killed mid-cache, the last night run twice: every output and state file
    is the serial run's."""
    monkeypatch.setattr(sso.association, "VISITS_PER_UNIT", 1)
    center = opposition_radec(61000.0)
    visits = synthetic_cadence(5, nights=3, start_mjd=61000.0, center=center, fields_ra=1,
                               fields_dec=1)
    sim = simulate(orbits, visits, 5, noise_per_deg2=20.0)
    write_diasource_dataset(sim.diasources, tmp_path / "diasources")
    nights = np.unique(night_of(sim.diasources["midpointMjdTai"].to_numpy()))
    dates = [Time(float(n), format="mjd").iso[:10] for n in nights]
    settings = NightSettings(unit_orbits=20, link=LinkingConfig(hypotheses="mb"))
    catalogue = orbits.iloc[40:].reset_index(drop=True)  # 40 objects to discover
    for date in dates:
        run_night(date, sim.visits, sim.diasources, catalogue, tmp_path / "serial", settings)
    killed = []
    with make_executor("dask", 2) as executor:
        for k, date in enumerate(dates):
            killer = threading.Thread(target=_kill_a_worker_once,
                                      args=(tmp_path / "dask", killed)) if k == 0 else None
            if killer:
                killer.start()
            run_night(date, sim.visits, tmp_path / "diasources", catalogue, tmp_path / "dask",
                      settings, executor=executor)
            if killer:
                killer.join()
        # The last night again (its cache parts reused): the files of a single run.
        run_night(dates[-1], sim.visits, tmp_path / "diasources", catalogue, tmp_path / "dask",
                  settings, executor=executor)
    assert len(killed) == 1

    def files(state):
        return {str(p.relative_to(state)): p.read_bytes() for p in sorted(state.rglob("*"))
                if p.is_file() and p.name not in ("timings.json", "summary.txt")}

    serial, dask = files(tmp_path / "serial"), files(tmp_path / "dask")
    assert serial == dask
    assert f"nights/{dates[0]}/cache/part-00005.parquet" in serial
    report = json.loads(serial[f"nights/{dates[-1]}/report.json"])
    assert report["n_associated"] > 100 and report["n_new_objects"] > 0
