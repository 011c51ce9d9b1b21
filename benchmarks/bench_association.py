"""Nightly association: stage timings, peak memory and correctness against a greedy matcher.

Work: a synthetic population (``sso.population.synthetic_population``: 85 % main belt, 5 % each
NEO, Trojan, TNO, epoch at the night) seen through a seeded LSST-like cadence
(``sso.cadence.synthetic_cadence``, visit pairs on a grid of fields around opposition) by the
survey simulator with false detections (``--noise-per-deg2``, default 300 per deg²).

Stages, each timed on one process: the simulation (input, not part of association); the
nightly cache build (``NightlyCache.build``: N-body over the night, fit, index); association
(``sso.associate`` with the cache: per-visit cone query, KD-tree pairs, trail check,
optimal assignment). Peak resident memory (``resource.getrusage``, ru_maxrss) is read after each
stage.

Baseline, in the same run and on the same cache: a plain per-visit greedy nearest-neighbour
matcher: the same cone query, a scipy ``cKDTree`` of the visit's DIASources, each prediction's
nearest source within the radius, conflicts resolved by taking pairs in order of distance.
Both are scored against the simulation truth: real detections associated to their object
(right), any other association (wrong), real detections left unassociated (missed).

Default size: 100 visits, 10^4 orbits. ``--survey`` selects the survey scale of the design
targets (1,000 visits, 10^6 orbits, about 10^7 DIASources at 1,040 false detections per deg²);
on the 2-core development machine it ran in about 2.5 minutes with a 6 GB peak, most of both
for the simulation and the cache build (2026-11-25: cache 48 s, association 11.6 s or 11 ms per
visit, 304,321 of 304,321 real detections right, 18 of 1.0e7 false detections associated).

Run: ``.venv/bin/python benchmarks/bench_association.py [--n-visits N] [--n-orbits N]
[--noise-per-deg2 D] [--survey]``; writes benchmarks/results/bench_association.json.
"""

import argparse
import resource
import time

import numpy as np
import pandas as pd
from _common import survey_cadence, write_results
from scipy.spatial import cKDTree

from ephemerides import NightlyCache
from ephemerides.sky import chord_length, unit_vectors
from sso.association import associate, association_night
from sso.cadence import night_of, visit_midpoints
from sso.population import synthetic_population
from sso.simulate import simulate

START_MJD_TAI = 61000.0
RADIUS_ARCSEC = 1.0
SURVEY = {"n_visits": 1000, "n_orbits": 1_000_000, "noise_per_deg2": 1040.0}


def _peak_memory_mb() -> float:
    """Peak resident memory of this process so far (MB; ru_maxrss is in kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def greedy_nearest_neighbour(diasources, visits, cache, radius_arcsec) -> pd.Series:
    """Baseline matcher: ``diaSourceId -> ssObjectId`` by per-visit greedy nearest neighbour."""
    midpoints = visit_midpoints(visits)
    chord = float(chord_length(radius_arcsec / 3600.0))
    groups = dict(list(diasources.groupby("visit", sort=False)))
    ids, objects = [], []
    for j in range(len(visits)):
        visit = visits.iloc[j]
        sources = groups.get(int(visit["observationId"]))
        if sources is None:
            continue
        pred = cache.query(visit["fieldRA"], visit["fieldDec"], 1.75 + radius_arcsec / 3600,
                           float(midpoints[j]))
        if pred.empty:
            continue
        tree = cKDTree(unit_vectors(sources["ra"].to_numpy(), sources["dec"].to_numpy()))
        distance, nearest = tree.query(
            unit_vectors(pred["ra_deg"].to_numpy(), pred["dec_deg"].to_numpy()),
            distance_upper_bound=chord)
        found = np.flatnonzero(np.isfinite(distance))
        taken = set()
        for k in found[np.argsort(distance[found], kind="stable")]:
            if nearest[k] not in taken:
                taken.add(nearest[k])
                ids.append(int(sources["diaSourceId"].iloc[nearest[k]]))
                objects.append(int(pred["ssObjectId"].iloc[k]))
    return pd.Series(objects, index=ids, dtype=np.int64)


def _score(associated: pd.Series, diasources, truth, orbits) -> dict:
    """Right, wrong and missed associations against the simulation truth."""
    true_ids = pd.Series(orbits["ssObjectId"].to_numpy(), index=orbits["object_id"].to_numpy())
    real = truth["object_id"].notna().to_numpy()
    expected = np.full(len(truth), -1, dtype=np.int64)
    expected[real] = true_ids.loc[truth["object_id"][real]].to_numpy()
    where = pd.Index(associated.index).get_indexer(diasources["diaSourceId"].to_numpy())
    got = np.where(where >= 0, associated.to_numpy()[np.maximum(where, 0)], -1)
    right = int(((got == expected) & real).sum())
    return {"real": int(real.sum()), "right": right,
            "wrong": int(((got >= 0) & (got != expected)).sum()),
            "missed": int((real & (got < 0)).sum()),
            "right_fraction": right / max(int(real.sum()), 1)}


def run(n_visits: int, n_orbits: int, noise_per_deg2: float, seed: int) -> dict:
    timings, memory = {}, {}
    t0 = time.perf_counter()
    visits = survey_cadence(n_visits, seed, START_MJD_TAI)
    night_start = float(visit_midpoints(visits).min())
    orbits = synthetic_population(n_orbits, seed, epoch_mjd_tdb=night_start)
    sim = simulate(orbits, visits, seed, noise_per_deg2=noise_per_deg2)
    timings["simulate_s"] = time.perf_counter() - t0
    memory["simulate_mb"] = _peak_memory_mb()
    ours = {"build_cache_s": 0.0, "associate_s": 0.0}
    greedy_s, greedy_parts, our_parts = 0.0, [], []
    nights = night_of(visit_midpoints(sim.visits))
    source_nights = night_of(sim.diasources["midpointMjdTai"].to_numpy())
    for night in np.unique(nights):
        visits_n = sim.visits[nights == night].reset_index(drop=True)
        dia_n = sim.diasources[source_nights == night]
        t0 = time.perf_counter()
        cache = NightlyCache.build(orbits, *association_night(dia_n, visits_n))
        ours["build_cache_s"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        result = associate(dia_n, visits_n, cache, RADIUS_ARCSEC)
        ours["associate_s"] += time.perf_counter() - t0
        sss = result.sssources
        our_parts.append(pd.Series(sss["ssObjectId"].to_numpy(),
                                   index=sss["diaSourceId"].to_numpy()))
        t0 = time.perf_counter()
        greedy_parts.append(greedy_nearest_neighbour(dia_n, visits_n, cache, RADIUS_ARCSEC))
        greedy_s += time.perf_counter() - t0
    memory["association_mb"] = _peak_memory_mb()
    timings.update(ours)
    timings["greedy_s"] = greedy_s
    n_visits_done = len(sim.visits)
    return {
        "n_visits": n_visits_done, "n_orbits": n_orbits, "n_diasources": len(sim.diasources),
        "noise_per_deg2": noise_per_deg2, "radius_arcsec": RADIUS_ARCSEC,
        "timings_s": timings,
        "associate_ms_per_visit": 1e3 * ours["associate_s"] / n_visits_done,
        "greedy_ms_per_visit": 1e3 * greedy_s / n_visits_done,
        "peak_memory_mb": memory,
        "optimal": _score(pd.concat(our_parts), sim.diasources, sim.truth, orbits),
        "greedy": _score(pd.concat(greedy_parts), sim.diasources, sim.truth, orbits),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-visits", type=int, default=100)
    parser.add_argument("--n-orbits", type=int, default=10_000)
    parser.add_argument("--noise-per-deg2", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--survey", action="store_true",
                        help="survey scale: 1,000 visits, 10^6 orbits, ~10^7 DIASources")
    args = parser.parse_args()
    size = dict(n_visits=args.n_visits, n_orbits=args.n_orbits,
                noise_per_deg2=args.noise_per_deg2)
    if args.survey:
        size = dict(SURVEY)
    results = run(seed=args.seed, **size)
    t = results["timings_s"]
    print(f"{results['n_visits']} visits, {results['n_orbits']} orbits, "
          f"{results['n_diasources']} DIASources (noise {results['noise_per_deg2']:g}/deg²)")
    print(f"{'stage':<28}{'seconds':>10}")
    for name in ("simulate_s", "build_cache_s", "associate_s", "greedy_s"):
        print(f"{name[:-2]:<28}{t[name]:>10.2f}")
    print(f"{'associate per visit (ms)':<28}{results['associate_ms_per_visit']:>10.2f}")
    print(f"{'greedy per visit (ms)':<28}{results['greedy_ms_per_visit']:>10.2f}")
    for stage, mb in results["peak_memory_mb"].items():
        print(f"{'peak memory, ' + stage[:-3]:<28}{mb:>10.0f} MB")
    print(f"{'matcher':<10}{'real':>8}{'right':>8}{'wrong':>8}{'missed':>8}{'right %':>10}")
    for name in ("optimal", "greedy"):
        s = results[name]
        print(f"{name:<10}{s['real']:>8}{s['right']:>8}{s['wrong']:>8}{s['missed']:>8}"
              f"{100 * s['right_fraction']:>10.3f}")
    print(f"wrote {write_results('bench_association', results)}")


if __name__ == "__main__":
    main()
