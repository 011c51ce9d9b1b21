"""Nightly ephemeris cache: build time and query latency (one core).

Work: synthetic orbits (``_common.synthetic_kep_orbits``: 80 % main belt, 15 % NEO, 5 % outer)
whose epoch is the night's start, so that "states at the night start are given" and the
propagation covers only the night (0.4 day, TAI 61000.0 to 61000.4, observatory X05).

(a) Build: ``NightlyCache.build`` on ``--n-build`` orbits (default 10^4), scaled linearly to
    10^5; the stages are timed separately (N-body propagation over the night; observables at
    the nodes; fit; HEALPix index). A first small build compiles or loads the Numba cache and is
    not timed.
(b) Query: LSST-sized cones (radius 1.75°) centred on randomly chosen cached objects at random
    times of the night, with 10^5 and 10^6 cached objects (the same build path, chunked), giving
    the median and 99th-percentile latency, the mean number of objects returned and of
    candidates the HEALPix index hands to the exact cone test.

Run: ``.venv/bin/python benchmarks/bench_cache.py [--n-build N] [--n-query N ...]``; writes
benchmarks/results/bench_cache.json.
"""

import argparse
import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import healpy as hp
import numpy as np
from _common import synthetic_kep_orbits, write_results

from ephemerides.cache import NightlyCache
from ephemerides.timescales import convert_mjd

NIGHT_START_MJD_TAI, NIGHT_END_MJD_TAI = 61000.0, 61000.4
RADIUS_DEG = 1.75
N_QUERIES = 300


def _orbits(n: int, seed: int):
    epoch_tdb = float(convert_mjd([NIGHT_START_MJD_TAI], "tai", "tdb")[0])
    return synthetic_kep_orbits(n, seed=seed, epoch_mjd_tdb=epoch_tdb)


def _build(n: int, seed: int = 42) -> tuple[NightlyCache, float]:
    t0 = time.perf_counter()
    cache = NightlyCache.build(_orbits(n, seed), NIGHT_START_MJD_TAI, NIGHT_END_MJD_TAI, "X05")
    return cache, time.perf_counter() - t0


def _query_latency(cache: NightlyCache, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(cache.objects), N_QUERIES)
    times = rng.uniform(NIGHT_START_MJD_TAI, NIGHT_END_MJD_TAI, N_QUERIES)
    # Field centres on the chosen objects' positions at the query times (unit vectors).
    unit = np.vstack([cache._evaluate(rows[i:i + 1], times[i])[:, :3] for i in range(N_QUERIES)])
    ra = np.rad2deg(np.arctan2(unit[:, 1], unit[:, 0])) % 360.0
    dec = np.rad2deg(np.arcsin(np.clip(unit[:, 2], -1.0, 1.0)))
    cache.query(ra[0], dec[0], RADIUS_DEG, times[0])  # warm-up
    latencies, found, candidates = [], [], []
    for i in range(N_QUERIES):
        t0 = time.perf_counter()
        result = cache.query(ra[i], dec[i], RADIUS_DEG, times[i])
        latencies.append(time.perf_counter() - t0)
        found.append(len(result))
        pixels = hp.query_disc(cache.params["nside"], hp.ang2vec(ra[i], dec[i], lonlat=True),
                               np.deg2rad(RADIUS_DEG), inclusive=True, nest=True)
        candidates.append(cache._candidates(pixels).size)
    return {"median_ms": 1e3 * float(np.median(latencies)),
            "p99_ms": 1e3 * float(np.percentile(latencies, 99)),
            "mean_objects_returned": float(np.mean(found)),
            "mean_candidates": float(np.mean(candidates))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-build", type=int, default=10_000)
    parser.add_argument("--n-query", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()

    _build(50, seed=0)  # compile or load the Numba cache
    cache, total = _build(args.n_build)
    scale = 1e5 / args.n_build
    stages = cache.build_seconds_
    after = total - stages["propagation"]
    build = {
        "n_orbits": args.n_build,
        "total_s": total,
        **{f"{k}_s": v for k, v in stages.items()},
        "total_per_1e5_s": total * scale,
        "after_propagation_per_1e5_s": after * scale,
        "propagation_per_1e5_s": stages["propagation"] * scale,
        "fit_error_mas_max": float(cache.objects["fit_error_mas"].max()),
        "fit_error_mas_median": float(cache.objects["fit_error_mas"].median()),
        "segments": {int(k): int(v) for k, v in
                     cache.objects["n_segments"].value_counts().sort_index().items()},
    }
    print(f"build of {args.n_build} orbits: {total:.2f} s (" + ", ".join(
        f"{k} {v:.2f} s" for k, v in stages.items()) + ")")
    print(f"  per 1e5 orbits: total {build['total_per_1e5_s']:.1f} s, after propagation "
          f"{build['after_propagation_per_1e5_s']:.1f} s (target <= 60 s)")
    print(f"  fit error: median {build['fit_error_mas_median']:.2g} mas, max "
          f"{build['fit_error_mas_max']:.2g} mas; sub-intervals {build['segments']}")

    queries = []
    print(f"\n{'cached objects':>15} {'build s':>9} {'median ms':>10} {'p99 ms':>8} "
          f"{'returned':>9} {'candidates':>11}")
    for n in args.n_query:
        cache, seconds = _build(n, seed=7)
        row = {"n_objects": n, "build_s": seconds, **_query_latency(cache)}
        queries.append(row)
        print(f"{n:>15,} {seconds:>9.1f} {row['median_ms']:>10.2f} {row['p99_ms']:>8.2f} "
              f"{row['mean_objects_returned']:>9.1f} {row['mean_candidates']:>11.1f}")
    path = write_results("bench_cache", {"radius_deg": RADIUS_DEG, "n_queries": N_QUERIES,
                                         "night_days": NIGHT_END_MJD_TAI - NIGHT_START_MJD_TAI,
                                         "build": build, "query": queries})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
