"""Scale-out of the nightly cache: wall time and peak memory per worker, 1 and 2 workers, on the
serial, process-pool and Dask executors (``sso.executors``, ``sso.workunits.build_cache``).

Work: ``--orbits`` (10⁶) seeded synthetic orbits (``_common.synthetic_kep_orbits``: 80 % main
belt, 15 % NEO, 5 % outer), cached for one LSST night at X05 (MJD 61000.98–61001.45 TAI) in
units of 20,000 orbits. Each configuration builds the whole cache; the cache is the same, byte
for byte, in every configuration (its SHA-256 is printed and compared). Peak memory per worker
is the largest resident set reached inside a unit's worker (``ru_maxrss``), read at the end of
every unit; for the serial run it is this process's.

The per-unit cost measured here is what a projection to a full LSST night rests on (printed at
the end): ``orbits / unit × seconds per unit / (nodes × cores per node)`` plus the gather.

Run: ``.venv/bin/python benchmarks/bench_scale.py [--orbits N] [--unit-orbits N]``. Writes
benchmarks/results/bench_scale.json.
"""

import argparse
import hashlib
import resource
import sys
import tempfile
import time
from pathlib import Path

from _common import synthetic_kep_orbits, write_results

from ephemerides import NightlyCache
from sso.executors import make_executor

NIGHT = (61000.98, 61001.45)
CONFIGURATIONS = (("serial", 1), ("processes", 1), ("processes", 2), ("dask", 1), ("dask", 2))
LSST_ORBITS = 1.5e6  # known objects a night's cache holds early in LSST (MPCORB ~1.5 million)


def _unit(unit):
    """One work unit: its cache and the worker's peak resident memory (MB) so far."""
    orbits, start, end = unit
    cache = NightlyCache.build(orbits, start, end, observatory_code="X05")
    return cache, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _digest(cache) -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cache.parquet"
        cache.save(path)
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def run(n_orbits: int, unit_orbits: int) -> dict:
    orbits = synthetic_kep_orbits(n_orbits)
    units = [(orbits.iloc[k:k + unit_orbits].reset_index(drop=True), *NIGHT)
             for k in range(0, n_orbits, unit_orbits)]
    rows = []
    for kind, workers in CONFIGURATIONS:
        t0 = time.perf_counter()
        with make_executor(kind, workers) as executor:
            started = time.perf_counter() - t0
            t1 = time.perf_counter()
            results = executor.map(_unit, units)
            compute = time.perf_counter() - t1
        parts = [cache for cache, _ in results]
        cache = parts[0] if len(parts) == 1 else NightlyCache.concat(parts, orbits)
        total = time.perf_counter() - t0
        rows.append({"executor": kind, "workers": workers, "startup_s": round(started, 2),
                     "compute_s": round(compute, 2), "total_s": round(total, 2),
                     "peak_mb_per_worker": round(max(mb for _, mb in results), 0),
                     "cache_sha256_16": _digest(cache)})
        print(f"{kind:<10}{workers:>3} workers: start {started:6.1f} s, build {compute:7.1f} s, "
              f"total {total:7.1f} s, peak {rows[-1]['peak_mb_per_worker']:6.0f} MB/worker",
              flush=True)
    per_unit = next(r for r in rows if r["executor"] == "serial")["compute_s"] / len(units)
    return {"orbits": n_orbits, "unit_orbits": unit_orbits, "units": len(units),
            "night_mjd_tai": list(NIGHT), "rows": rows, "seconds_per_unit": per_unit,
            "identical": len({r["cache_sha256_16"] for r in rows}) == 1}


def _projection(r: dict) -> str:
    units = LSST_ORBITS / r["unit_orbits"]
    cores = 32 * 16
    seconds = units * r["seconds_per_unit"] / min(cores, units)
    return (f"projection: {LSST_ORBITS:.1e} orbits = {units:.0f} units of "
            f"{r['seconds_per_unit']:.1f} s; on 32 nodes × 16 cores the cache of a night takes "
            f"about {seconds:.0f} s of compute plus the gather (each unit's cache is "
            f"~{r['unit_orbits'] * 1.1e-3:.0f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orbits", type=int, default=1_000_000)
    parser.add_argument("--unit-orbits", type=int, default=20_000)
    args = parser.parse_args()
    results = run(args.orbits, args.unit_orbits)
    serial = next(r for r in results["rows"] if r["executor"] == "serial")["total_s"]
    for r in results["rows"]:
        r["speedup_vs_serial"] = round(serial / r["total_s"], 2)
    print(f"identical caches: {results['identical']}")
    print(_projection(results))
    print(f"wrote {write_results('bench_scale', results)}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
