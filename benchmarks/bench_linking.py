"""HelioLinC3D-style linking: findable objects, candidate completeness, stage timings and memory.

Work: a simulated LSST-like 5°×5° field watched for 14 nights. The field is centred on the
opposition point of the first night and covered by 4 fields at 3° spacing
(``sso.cadence.synthetic_cadence(fields_ra=2, fields_dec=2)``: circles of 1.75° radius, visit
pairs 20–40 min apart every night); each night is kept with probability ``--night-fraction``
(0.6, seeded: weather and cadence gaps), all of its visits together.

Objects: real orbit shapes placed in the field by ``sso.population.field_population``. Templates
are the 1,000 S3M synthetic main-belt orbits (``s3m_mba_1000_cart.csv``) and the 14,097 real
MPCORB near-Earth orbits (``nea_mpcorb_epoch_2016.txt``) of the shared data. A clone keeps its
template's a, e, i and argument of perihelion and draws the node and the mean anomaly uniformly
at the middle epoch of the 14 days, and is kept when its 2-body position at that epoch lies in
the 5°×5° box, until ``--n-mba`` (2,700) main-belt and ``--n-neo`` (300) NEO clones are in. H
follows the population's power laws (main belt: slope 0.30 over 14–20; NEO: 0.35 over 16–24).

Detections: ``sso.simulate.simulate`` (N-body, circle footprint) with false detections at the
density that gives ``--n-noise`` (60,000) of them in expectation over the kept visits. The
simulation is input, timed but not part of the search.

Stages, each timed in one process (the search uses every core), with the peak resident memory
(``resource.getrusage`` ru_maxrss) read after each: hypotheses (main-belt + NEO grid), tracklets
(``linking.make_tracklets``), the HelioLinC3D search (``linking.search_tracklets``), the orbit
fits and purification (``linking.purify``), and the metrics (``linking.findable_objects``,
``classify_linkages``, ``completeness``, difi's conventions: findable = tracklets on ≥ 3 nights
within 15 days; found = a pure linkage holding ≥ 6 of the object's detections) of the
candidates and of the final linkages. Targets: ≥ 99 % of findable objects in at least one pure
candidate with tracklets + search ≤ 5 minutes on 2 cores (issue 6); ≥ 98 % completeness and
≥ 99 % purity of the final linkages with the whole pipeline ≤ 10 minutes (issue 7).

The same seed gives the same orbits, cadence and detections (the detections' checksum is
printed and stored).

Default size, seed 1, on the 2-core development machine (2026-11-25): 80 visits on 10 of 14
nights, 2,681 of 2,700 main-belt and 82 of 300 NEO clones detected (the NEOs' H runs to 24),
104,911 detections (44,914 real, 59,997 false), 51,731 tracklets (4.0 s), 2,646 findable objects
(2,593 MBA, 53 NEO). Built-in ``mb+neo`` grid (7,398 hypotheses, two threads): search 179 s,
0.71 GB peak, 22,441 candidates (12,470 pure, 971 contaminated, 9,000 mixed), 2,645 of the 2,646
findable objects in a pure candidate (one NEO of H 23.7 missed). Most of the search time is the
~1,500 NEO hypotheses at 1.0-1.5 AU, where the whole field projects within 0.5 AU of the
observer. Orbit fits, purification and merging (``linking.purify``): 47 s, 2,653 linkages, 2,645
pure (99.70 %), 3 contaminated, 5 mixed, no detection in two, completeness 2,645/2,646
(99.96 %); the whole pipeline (hypotheses, tracklets, search, fits) 231 s, 0.71 GB.

Run: ``.venv/bin/python benchmarks/bench_linking.py [--n-mba N] [--n-neo N] [--n-noise N]
[--seed S] [--hypotheses FILE ...] [--small]``; ``--small`` is a quick run (270 + 30 objects,
6,000 false detections). Writes benchmarks/results/bench_linking.json.
"""

import argparse
import hashlib
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import write_results

import linking
from ephemerides import read_orbits
from ephemerides.elements import (
    cartesian_to_keplerian,
    orbits_to_states,
)
from sso.cadence import opposition_radec, synthetic_cadence, visit_midpoints
from sso.population import field_population
from sso.simulate import simulate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MBA_TEMPLATES = DATA / "orbits" / "s3m_mba_1000_cart.csv"
NEO_TEMPLATES = DATA / "orbits" / "nea_mpcorb_epoch_2016.txt"
START_MJD_TAI = 61000.0
NIGHTS = 14
HALF_WIDTH_DEG = 2.5  # the 5°×5° box the clones are placed in at the middle epoch
FOOTPRINT_RADIUS_DEG = 1.75  # sso.simulate's "circle" footprint
TAI_TO_TDB_DAYS = 32.184 / 86400.0  # TT - TAI; TDB - TT (< 2 ms) ignored
SMALL = {"n_mba": 270, "n_neo": 30, "n_noise": 6_000}


def _peak_memory_mb() -> float:
    """Peak resident memory of this process so far (MB; ru_maxrss is in kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --- the linking calls ------------------------------------------------------------------------

def linking_api(hypothesis_files):
    """The linking calls the benchmark times: ``(hypotheses(), tracklets(detections),
    search(tracklets, hypotheses), fit(detections, candidates))`` with the default
    ``LinkingConfig``; the hypotheses are its built-in grid (``mb+neo``), or the
    ``--hypotheses`` files concatenated."""
    config = linking.LinkingConfig()

    def hypotheses() -> pd.DataFrame:
        if hypothesis_files is None:
            return linking.load_hypotheses(config.hypotheses)
        return pd.concat([linking.read_hypotheses(f) for f in hypothesis_files],
                         ignore_index=True)

    def tracklets(detections: pd.DataFrame):
        return linking.make_tracklets(detections, config.tracklets)

    def candidates(tracklets, hyps: pd.DataFrame):
        return linking.search_tracklets(tracklets, hyps, config, progress=True)

    def fit(detections: pd.DataFrame, found):
        return linking.purify(linking.prepare_detections(detections), found, config,
                              progress=True)

    return hypotheses, tracklets, candidates, fit


# --- field simulation ---------------------------------------------------------------------------

def _cadence(seed: int, night_fraction: float):
    """14 nights of visit pairs on 2×2 fields around the first night's opposition point, each
    night kept with probability ``night_fraction``: (visits, centre (ra, dec) deg, middle epoch
    of the 14 nights in MJD TDB)."""
    center = opposition_radec(START_MJD_TAI)
    visits = synthetic_cadence(seed, nights=NIGHTS, start_mjd=START_MJD_TAI, center=center,
                               fields_ra=2, fields_dec=2)
    midpoints = visit_midpoints(visits)
    epoch_mjd_tdb = 0.5 * float(midpoints.min() + midpoints.max()) + TAI_TO_TDB_DAYS
    nights = np.floor(midpoints - 0.5).astype(np.int64)
    unique = np.unique(nights)
    rng = np.random.default_rng([seed, 1])
    kept = unique[rng.random(unique.size) < night_fraction]
    if kept.size < 3:  # a field needs three nights to be linkable at all
        kept = unique[np.sort(rng.choice(unique.size, 3, replace=False))]
    return visits[np.isin(nights, kept)].reset_index(drop=True), center, epoch_mjd_tdb


def _templates(path: Path) -> np.ndarray:
    """a, e, inc, argperi (AU, deg) of the bound orbits of a catalogue, shape (n, 4)."""
    orbits = read_orbits(path)
    states, _ = orbits_to_states(orbits)
    kep = cartesian_to_keplerian(states)
    kep = kep[(kep[:, 1] < 1.0) & (kep[:, 0] > 0)]
    return np.ascontiguousarray(kep[:, [0, 1, 2, 4]])


def simulate_field(n_mba: int, n_neo: int, n_noise: int, seed: int, night_fraction: float,
                   method: str = "nbody") -> dict:
    """Visits, orbits and detections of the field; see the module docstring."""
    visits, center, epoch = _cadence(seed, night_fraction)
    orbits, drawn = field_population(
        {"mba": n_mba, "neo": n_neo}, center, HALF_WIDTH_DEG, epoch, seed,
        templates={"mba": _templates(MBA_TEMPLATES), "neo": _templates(NEO_TEMPLATES)})
    orbits["kind"] = np.where(orbits["object_id"].str.startswith("M"), "mba", "neo")
    cap_deg2 = (2.0 * np.pi * (1.0 - np.cos(np.deg2rad(FOOTPRINT_RADIUS_DEG)))
                * (180.0 / np.pi) ** 2)
    noise_per_deg2 = n_noise / (len(visits) * cap_deg2)
    sim = simulate(orbits.drop(columns="kind"), visits, seed, noise_per_deg2=noise_per_deg2,
                   footprint="circle", method=method)
    return {"visits": sim.visits, "orbits": orbits, "center": center, "epoch_mjd_tdb": epoch,
            "diasources": sim.diasources, "truth": sim.truth, "noise_per_deg2": noise_per_deg2,
            "clones_drawn": drawn}


def _checksum(diasources: pd.DataFrame) -> str:
    """SHA-256 (first 16 hex digits) of the detections' ids, times and positions."""
    data = diasources[["diaSourceId", "midpointMjdTai", "ra", "dec"]].to_numpy(np.float64)
    return hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()[:16]


# --- benchmark ----------------------------------------------------------------------------------

def _observations(field: dict) -> pd.DataFrame:
    """Detections with their true object, class and night (noon-to-noon UTC, right for Chile)."""
    dia = field["diasources"][["diaSourceId", "midpointMjdTai", "ra", "dec"]]
    obs = dia.merge(field["truth"][["diaSourceId", "object_id"]], on="diaSourceId")
    obs["night"] = np.floor(obs["midpointMjdTai"].to_numpy() - 0.5).astype(np.int64)
    kind = field["orbits"].set_index("object_id")["kind"]
    obs["kind"] = obs["object_id"].map(kind)
    return obs


def _rates_deg_per_day(obs: pd.DataFrame) -> pd.Series:
    """Mean sky rate of each object over its detections (deg/day), from first to last."""
    real = obs[obs["object_id"].notna()].sort_values("midpointMjdTai")
    ends = real.groupby("object_id").agg(t0=("midpointMjdTai", "first"),
                                         t1=("midpointMjdTai", "last"),
                                         ra0=("ra", "first"), ra1=("ra", "last"),
                                         dec0=("dec", "first"), dec1=("dec", "last"))
    dra = ((ends["ra1"] - ends["ra0"] + 180.0) % 360.0 - 180.0) * np.cos(
        np.deg2rad(0.5 * (ends["dec0"] + ends["dec1"])))
    span = (ends["t1"] - ends["t0"]).where(lambda s: s > 0)
    return np.hypot(dra, ends["dec1"] - ends["dec0"]) / span


def run(n_mba: int, n_neo: int, n_noise: int, seed: int, night_fraction: float,
        hypothesis_files, sim_method: str) -> dict:
    timings, memory = {}, {}
    t0 = time.perf_counter()
    field = simulate_field(n_mba, n_neo, n_noise, seed, night_fraction, sim_method)
    timings["simulate_s"] = time.perf_counter() - t0
    memory["simulate_mb"] = _peak_memory_mb()
    obs = _observations(field)
    real = obs["object_id"].notna()
    detected = obs.loc[real].groupby("kind")["object_id"].nunique()

    make_hypotheses, make_tracklets, search, fit = linking_api(hypothesis_files)
    t0 = time.perf_counter()
    hypotheses = make_hypotheses()
    timings["hypotheses_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    tracklets = make_tracklets(field["diasources"])
    timings["tracklets_s"] = time.perf_counter() - t0
    memory["tracklets_mb"] = _peak_memory_mb()
    t0 = time.perf_counter()
    candidates = search(tracklets, hypotheses)
    timings["search_s"] = time.perf_counter() - t0
    memory["search_mb"] = _peak_memory_mb()
    t0 = time.perf_counter()
    result = fit(field["diasources"], candidates)
    timings["fit_s"] = time.perf_counter() - t0
    memory["fit_mb"] = _peak_memory_mb()

    t0 = time.perf_counter()
    findable = linking.findable_objects(obs)
    classified = linking.classify_linkages(candidates.members, obs)
    summary = linking.completeness(findable, classified)
    final = linking.completeness(findable, linking.classify_linkages(
        result.members[["linkage_id", "diaSourceId"]], obs))
    final["detections_in_two_linkages"] = int(result.members["diaSourceId"].duplicated().sum())
    timings["metrics_s"] = time.perf_counter() - t0
    memory["metrics_mb"] = _peak_memory_mb()
    timings["linking_total_s"] = (timings["hypotheses_s"] + timings["tracklets_s"]
                                  + timings["search_s"] + timings["fit_s"])

    kind = field["orbits"].set_index("object_id")["kind"]
    findable["kind"] = findable["object_id"].map(kind)
    found_ids = set(classified.loc[classified["found_pure"], "linked_object_id"])
    findable["found_pure"] = findable["object_id"].isin(found_ids)
    per_class = {}
    for name in ("mba", "neo"):
        rows = findable[(findable["kind"] == name) & findable["findable"]]
        per_class[name] = {"findable": len(rows), "found_pure": int(rows["found_pure"].sum()),
                           "completeness": (float(rows["found_pure"].mean()) if len(rows)
                                            else float("nan"))}
    missed = findable[findable["findable"] & ~findable["found_pure"]].copy()
    missed["rate_deg_per_day"] = missed["object_id"].map(_rates_deg_per_day(obs))
    # Tracklets holding a detection of each missed object (0: no tracklet was built for it).
    member_objects = tracklets.members.merge(obs[["diaSourceId", "object_id"]], on="diaSourceId")
    tracklet_nights = (member_objects.merge(tracklets.tracklets[["tracklet_id", "night"]],
                                            on="tracklet_id")
                       .groupby("object_id")["night"].nunique())
    missed["nights_with_built_tracklet"] = (
        missed["object_id"].map(tracklet_nights).fillna(0).astype(int))
    orbit_cols = field["orbits"].set_index("object_id")[["a_au", "e", "inc_deg", "H"]]
    missed = missed.join(orbit_cols, on="object_id")

    n_tracklets = len(tracklets.tracklets)
    return {
        "seed": seed, "center_radec_deg": list(field["center"]),
        "epoch_mjd_tdb": field["epoch_mjd_tdb"],
        "n_visits": len(field["visits"]),
        "n_nights": int(np.unique(np.floor(visit_midpoints(field["visits"]) - 0.5)).size),
        "objects_in_field": {"mba": n_mba, "neo": n_neo},
        "clones_drawn": field["clones_drawn"],
        "objects_detected": {k: int(detected.get(k, 0)) for k in ("mba", "neo")},
        "detections": {"total": len(obs), "real": int(real.sum()), "noise": int((~real).sum())},
        "noise_per_deg2": field["noise_per_deg2"],
        "detections_sha256_16": _checksum(field["diasources"]),
        "n_hypotheses": len(hypotheses),
        "hypotheses": ([str(f) for f in hypothesis_files] if hypothesis_files
                       else linking.LinkingConfig().hypotheses),
        "tracklets": {"total": n_tracklets,
                      "pairs": int((tracklets.tracklets["n_detections"] == 2).sum()),
                      "longer": int((tracklets.tracklets["n_detections"] > 2).sum())},
        "findable": {"mba": per_class["mba"]["findable"], "neo": per_class["neo"]["findable"],
                     "total": summary["num_findable"]},
        "completeness": summary,
        "linkages": final,
        "completeness_by_class": per_class,
        "missed": missed.to_dict(orient="records"),
        "timings_s": timings,
        "peak_memory_mb": memory,
    }


def _report(r: dict) -> None:
    d, t = r["detections"], r["timings_s"]
    c, f = r["completeness"], r["findable"]
    print(f"field centre RA {r['center_radec_deg'][0]:.2f} Dec {r['center_radec_deg'][1]:.2f}, "
          f"{r['n_visits']} visits on {r['n_nights']} of {NIGHTS} nights")
    print(f"objects in field: {r['objects_in_field']['mba']} MBA + {r['objects_in_field']['neo']}"
          f" NEO (of {r['clones_drawn']['mba']} + {r['clones_drawn']['neo']} clones drawn); "
          f"detected: {r['objects_detected']['mba']} MBA + {r['objects_detected']['neo']} NEO")
    print(f"detections: {d['total']} ({d['real']} real, {d['noise']} noise at "
          f"{r['noise_per_deg2']:.1f}/deg²), checksum {r['detections_sha256_16']}")
    tr = r["tracklets"]
    print(f"tracklets: {tr['total']} ({tr['pairs']} pairs, {tr['longer']} of 3+); "
          f"hypotheses: {r['n_hypotheses']}")
    print(f"findable: {f['total']} ({f['mba']} MBA, {f['neo']} NEO)")
    print(f"candidates: {c['num_linkages']} ({c['num_pure']} pure, {c['num_contaminated']} "
          f"contaminated, {c['num_mixed']} mixed)")
    print(f"completeness (pure): {c['num_found_pure']}/{c['num_findable']} = "
          f"{100 * c['completeness']:.2f} %; with contaminated "
          f"{100 * c['completeness_with_contaminated']:.2f} %")
    for name, s in r["completeness_by_class"].items():
        print(f"  {name}: {s['found_pure']}/{s['findable']} = {100 * s['completeness']:.2f} %")
    k = r["linkages"]
    print(f"linkages after fit and purification: {k['num_linkages']} ({k['num_pure']} pure, "
          f"{k['num_contaminated']} contaminated, {k['num_mixed']} mixed; "
          f"{k['detections_in_two_linkages']} detections in two); completeness "
          f"{k['num_found_pure']}/{k['num_findable']} = {100 * k['completeness']:.2f} %")
    if r["missed"]:
        print(f"missed findable objects ({len(r['missed'])}, up to 20 shown):")
        print(f"  {'object':<9}{'class':<6}{'nights':>7}{'trk nights':>11}{'built':>6}"
              f"{'rate°/d':>9}{'a':>7}{'e':>6}{'i':>6}{'H':>6}")
        for m in r["missed"][:20]:
            print(f"  {m['object_id']:<9}{m['kind']:<6}{m['num_nights']:>7}"
                  f"{m['max_tracklet_nights_in_window']:>11}{m['nights_with_built_tracklet']:>6}"
                  f"{m['rate_deg_per_day']:>9.3f}{m['a_au']:>7.2f}{m['e']:>6.2f}"
                  f"{m['inc_deg']:>6.1f}{m['H']:>6.1f}")
    print(f"{'stage':<28}{'seconds':>10}")
    for name, seconds in t.items():
        print(f"{name[:-2]:<28}{seconds:>10.2f}")
    for stage, mb in r["peak_memory_mb"].items():
        print(f"{'peak memory, ' + stage[:-3]:<28}{mb:>10.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-mba", type=int, default=2_700)
    parser.add_argument("--n-neo", type=int, default=300)
    parser.add_argument("--n-noise", type=int, default=60_000,
                        help="expected number of false detections")
    parser.add_argument("--night-fraction", type=float, default=0.6,
                        help="probability that a night is observed")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hypotheses", nargs="+", type=Path, default=None, metavar="FILE",
                        help="hypothesis files to concatenate (default: the mb+neo grid, or "
                             "mb_213 + neo_small while linking has no hypothesis_grid)")
    parser.add_argument("--sim-method", choices=("nbody", "2body"), default="nbody",
                        help="propagation of the simulator (input only)")
    parser.add_argument("--small", action="store_true",
                        help="quick run: 270 MBA + 30 NEO, 6,000 false detections")
    args = parser.parse_args()
    size = dict(n_mba=args.n_mba, n_neo=args.n_neo, n_noise=args.n_noise)
    if args.small:
        size = dict(SMALL)
    results = run(seed=args.seed, night_fraction=args.night_fraction,
                  hypothesis_files=args.hypotheses, sim_method=args.sim_method, **size)
    _report(results)
    print(f"wrote {write_results('bench_linking', results)}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
