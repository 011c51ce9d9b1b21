"""Linking side by side with the C++ HelioLinC3D on fields it was never tuned to.

Fields (each a 14-night window; every detection's truth known):

* ``quadrature`` — the real LSST cadence (``../shared/data/survey``, baseline v2.0: its own
  pair intervals, back-to-back visits and triples, depths and seeing; the LSST focal plane of
  189 detectors) on the 5°×5° box around RA 317.5°, Dec −19.4° from MJD 60217, at solar
  elongation ~120°: main-belt objects near their stationary points move slowly and turn.
* ``opposition`` — the same cadence around RA 5.9°, Dec 2.2° from MJD 60224 (elongation ~166°).
* ``twilight`` — the same cadence around RA 138.0°, Dec 10.3° from MJD 60420 (elongation
  ~103°, the lowest with a week of nights in the first year), where NEOs are.
* ``ten_objects`` — HelioLinC3D's own fixture (``../shared/data/linking/ten_objects_lsst.csv``,
  made by another simulator): ten objects, no false detections.

Populations (``sso.population.field_population``: orbit shapes kept, node and mean anomaly
drawn until the object lies in the box at the middle epoch): main belt from the 1,000 S3M
orbits, NEOs from the 14,097 real MPCORB NEAs of the shared data, synthetic Hildas and Jupiter
Trojans; H from each class's power law. Detections from ``sso.simulate.simulate`` (N-body, the
LSST focal plane, the visit's seeing and depth), plus false detections uniform on the focal
plane at the density that gives ``false_detections`` of them.

Linkers, each in a fresh process (numba caches and heliolinx loaded by a warm-up on the
ten-object fixture first; BLAS single-threaded, see ``_run_linker``; CPU = user + system time
of the process, all threads, for the linking alone; peak memory = the process's high-water
mark, printed for the project only, as the peer's process holds the project's imports too):

* **project** — ``linking.link(detections)``, the default configuration, timed by stage
  (tracklets, search, fits and purification), as a new user would call it;
* **HelioLinC3D** — ``heliolinx`` 0.0.2 (``benchmarks/_heliolinx_peer.py``): make_tracklets →
  heliolinc with its 213-hypothesis main-belt grid (``mb_213.txt``) at ``clustrad`` 10⁵ km →
  link_purify, its defaults otherwise. Needs the benchmark environment of
  ``make bench-linking`` (``.venv-peers``: heliolinx and NumPy 1); elsewhere its columns are
  skipped with the reason.

Both are scored by ``linking.metrics`` (difi's conventions): findable = a tracklet (two
detections within 90 min, no minimum motion) on ≥ 3 nights within 15 days — and, beside it,
difi's simple rule (≥ 6 detections); found = a pure linkage holding ≥ 6 of the object's
detections. For the project the missed findable objects are put in the stage that lost them:
no tracklet on 3 nights, no pure candidate, or lost in the fits and purification.

Run: ``make bench-linking`` (or ``.venv-peers/bin/python benchmarks/bench_linking.py
[--fields NAME ...] [--seed S] [--scale F] [--false-detections N] [--linkers ...]
[--hypotheses GRID]``; ``--scale 0.2`` is a quick run with a fifth of the objects and false
detections; ``--fields opposition --false-detections 920000 --linkers project`` makes a window
of 10⁶ detections for the memory target). Writes ``benchmarks/results/bench_linking.json``.
"""

import argparse
import hashlib
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
from _common import write_results

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
VISITS = DATA / "survey" / "lsst_baseline_v2.0_1yr_visits.parquet"
DETECTOR_CORNERS = DATA / "survey" / "lsst_detector_corners.csv"
MBA_TEMPLATES = DATA / "orbits" / "s3m_mba_1000_cart.csv"
NEO_TEMPLATES = DATA / "orbits" / "nea_mpcorb_epoch_2016.txt"
TEN_OBJECTS = DATA / "linking" / "ten_objects_lsst.csv"
PEER_HYPOTHESES = DATA / "linking" / "hypotheses" / "mb_213.txt"
NIGHTS = 14
HALF_WIDTH_DEG = 2.5  # the 5°×5° box the objects are placed in at the middle epoch
# Visits whose boresight lies within the box's half-diagonal plus the focal plane's radius.
REGION_RADIUS_DEG = float(np.hypot(HALF_WIDTH_DEG, HALF_WIDTH_DEG)) + 1.75
FOCAL_PLANE_DEG2 = 9.6
TAI_TO_TDB_DAYS = 32.184 / 86400.0  # TT − TAI; TDB − TT (< 2 ms) ignored


@dataclass(frozen=True)
class Field:
    """A benchmark field: where and when on the LSST cadence, and what lives there."""

    center_radec_deg: tuple[float, float]
    first_night: int
    counts: dict = field(default_factory=dict)
    false_detections: int = 60_000
    what: str = ""


FIELDS = {
    "quadrature": Field((317.5, -19.4), 60217,
                        {"mba": 2400, "hilda": 150, "trojan": 150, "neo": 400},
                        what="real LSST cadence, elongation ~120° (stationary points)"),
    "opposition": Field((5.9, 2.2), 60224,
                        {"mba": 2400, "hilda": 150, "trojan": 150, "neo": 400},
                        what="real LSST cadence, elongation ~166°"),
    "twilight": Field((138.0, 10.3), 60420,
                      {"mba": 1000, "hilda": 50, "trojan": 50, "neo": 1500},
                      what="real LSST cadence, elongation ~103° (NEOs)"),
}
FIXTURE = "ten_objects"


def _peak_memory_mb() -> float:
    """Peak resident memory of this process or of a child it waited for (the peer runs in a
    forked worker), MB (ru_maxrss is in kB on Linux)."""
    return max(resource.getrusage(who).ru_maxrss
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024.0


# --- fields -------------------------------------------------------------------------------------

def _templates(path: Path) -> np.ndarray:
    """a, e, inc, argperi (AU, deg) of the bound orbits of a catalogue, shape (n, 4)."""
    from ephemerides import read_orbits
    from ephemerides.elements import cartesian_to_keplerian, orbits_to_states

    states, _ = orbits_to_states(read_orbits(path))
    kep = cartesian_to_keplerian(states)
    kep = kep[(kep[:, 1] < 1.0) & (kep[:, 0] > 0)]
    return np.ascontiguousarray(kep[:, [0, 1, 2, 4]])


def simulate_field(name: str, seed: int, scale: float,
                   false_detections: int | None = None, cutouts: bool = False) -> dict:
    """Detections, truth (``object_id``, ``kind``), visits and orbits of one field; the field's
    own number of false detections (times ``scale``) unless ``false_detections`` is given; with
    ``cutouts`` also every detection's difference-image cutout (``sso.simulate``)."""
    from sso.cadence import night_of, read_visits, visit_midpoints
    from sso.population import field_population
    from sso.simulate import simulate

    spec = FIELDS[name]
    nights = list(range(spec.first_night, spec.first_night + NIGHTS))
    visits = read_visits(VISITS, nights=nights,
                         region=(*spec.center_radec_deg, REGION_RADIUS_DEG))
    midpoints = visit_midpoints(visits)
    epoch = 0.5 * float(midpoints.min() + midpoints.max()) + TAI_TO_TDB_DAYS
    counts = {k: max(1, round(v * scale)) for k, v in spec.counts.items()}
    orbits, _ = field_population(
        counts, spec.center_radec_deg, HALF_WIDTH_DEG, epoch, seed,
        templates={"mba": _templates(MBA_TEMPLATES), "neo": _templates(NEO_TEMPLATES)})
    wanted = spec.false_detections * scale if false_detections is None else false_detections
    noise_per_deg2 = wanted / (len(visits) * FOCAL_PLANE_DEG2)
    sim = simulate(orbits, visits, seed, noise_per_deg2=noise_per_deg2, footprint="lsst",
                   detector_corners=DETECTOR_CORNERS, cutouts=cutouts)
    kind = {"M": "mba", "N": "neo", "J": "trojan", "H": "hilda", "T": "tno"}
    truth = sim.truth[["diaSourceId", "object_id"]].copy()
    truth["kind"] = truth["object_id"].str[0].map(kind)
    truth["night"] = night_of(sim.diasources["midpointMjdTai"].to_numpy())
    return {"detections": sim.diasources, "truth": truth, "visits": sim.visits,
            "n_nights": int(np.unique(night_of(midpoints)).size), "n_objects": len(orbits),
            "cutouts": sim.cutouts}


def fixture_field() -> dict:
    """HelioLinC3D's ten-object fixture as a DiaSource table with its truth."""
    sim = pd.read_csv(TEN_OBJECTS)
    detections = pd.DataFrame({
        "diaSourceId": sim["#index"].to_numpy(np.int64),
        "midpointMjdTai": sim["FieldMJD_TAI"].to_numpy(np.float64),
        "ra": sim["AstRA(deg)"].to_numpy(np.float64),
        "dec": sim["AstDec(deg)"].to_numpy(np.float64),
        "raErr": sim["AstrometricSigma(deg)"].to_numpy(np.float64),
        "decErr": sim["AstrometricSigma(deg)"].to_numpy(np.float64),
        "observatoryCode": sim["OBSCODE"].astype(str),
    })
    truth = pd.DataFrame({"diaSourceId": detections["diaSourceId"], "object_id": sim["ObjID"],
                          "kind": "mba",
                          "night": np.floor(detections["midpointMjdTai"] - 0.5).astype(np.int64)})
    return {"detections": detections, "truth": truth, "visits": None,
            "n_nights": int(truth["night"].nunique()), "n_objects": 10}


# --- the two linkers, each in a fresh process ---------------------------------------------------

def _warm_up(run, settings: dict) -> None:
    """Load numba caches / heliolinx on the ten-object fixture before anything is timed."""
    if TEN_OBJECTS.is_file():
        run(fixture_field()["detections"], None, settings)


def _project(detections: pd.DataFrame, _visits, settings: dict) -> dict:
    import linking

    config = linking.LinkingConfig(**settings)
    stages, cpu = {}, {}
    t0, c0 = time.perf_counter(), time.process_time()
    frame = linking.prepare_detections(detections)
    tracklets = linking.make_tracklets(frame, config.tracklets)
    stages["tracklets"], cpu["tracklets"] = time.perf_counter() - t0, time.process_time() - c0
    t1, c1 = time.perf_counter(), time.process_time()
    candidates = linking.search_tracklets(
        tracklets, linking.load_hypotheses(config.hypotheses), config,
        trail_hypotheses=linking.load_trail_hypotheses(tracklets, config))
    stages["search"], cpu["search"] = time.perf_counter() - t1, time.process_time() - c1
    t2, c2 = time.perf_counter(), time.process_time()
    result = linking.purify(frame, candidates, config)
    stages["fits"], cpu["fits"] = time.perf_counter() - t2, time.process_time() - c2
    stages["total"], cpu["total"] = time.perf_counter() - t0, time.process_time() - c0
    return {"linkages": result.members[["linkage_id", "diaSourceId"]],
            "candidates": candidates.members, "tracklet_members": tracklets.members,
            "n_tracklets": len(tracklets.tracklets), "wall_s": stages, "cpu_s": cpu}


def _heliolinc3d(detections: pd.DataFrame, visits, _settings: dict) -> dict:
    from _heliolinx_peer import run_heliolinx

    found = run_heliolinx(detections, PEER_HYPOTHESES, visits=visits)
    return {"linkages": found.linkages, "candidates": found.candidates,
            "n_tracklets": found.n_tracklets, "wall_s": found.wall_s, "cpu_s": found.cpu_s}


LINKERS = {"project": _project, "heliolinc3d": _heliolinc3d}


def _child(linker: str, path: str, visits_path: str | None, settings: dict) -> dict:
    """One linker on one field's detections, in this (fresh) process; ``settings`` are the
    project's ``LinkingConfig`` fields given on the command line."""
    run = LINKERS[linker]
    _warm_up(run, settings)
    detections = pd.read_parquet(path)
    visits = pd.read_parquet(visits_path) if visits_path else None
    out = run(detections, visits, settings)
    out["peak_memory_mb"] = _peak_memory_mb()
    return out


def _peer_missing() -> str | None:
    """Why HelioLinC3D cannot run here, or None."""
    try:
        import heliolinx.heliolinx  # noqa: F401
    except ImportError as error:
        return (f"heliolinx not importable ({error}); run `make bench-linking`, which builds "
                ".venv-peers with heliolinx==0.0.2 and numpy<2")
    return None


def _run_linker(linker: str, data: dict, workdir: Path, settings: dict) -> dict:
    path = workdir / "detections.parquet"
    data["detections"].to_parquet(path)
    visits_path = None
    if data["visits"] is not None:
        visits_path = str(workdir / "visits.parquet")
        data["visits"].to_parquet(visits_path)
    # BLAS single-threaded in the linkers' processes: both parallelise themselves (the
    # project's search threads; HelioLinC3D's OpenMP), and NumPy 1's OpenBLAS, which the
    # peer's environment needs, spends ~5× the CPU of one thread on the 6×6 normal equations
    # of the orbit fits by waking its threads (NumPy 2's does not).
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    context = get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(_child, linker, str(path), visits_path, settings).result()


# --- scoring ------------------------------------------------------------------------------------

def _observations(data: dict) -> pd.DataFrame:
    dia = data["detections"][["diaSourceId", "midpointMjdTai", "ra", "dec"]]
    return dia.merge(data["truth"], on="diaSourceId")


def score(obs: pd.DataFrame, found: dict) -> dict:
    """Completeness (both findability rules), purity and overlaps of one linker's output."""
    import linking
    from linking.metrics import FindabilityRule

    classified = linking.classify_linkages(found["linkages"], obs)
    out = {}
    for rule_name, rule in (("tracklets", FindabilityRule()),
                            ("min_observations", FindabilityRule(method="min_observations"))):
        findable = linking.findable_objects(obs, rule)
        summary = linking.completeness(findable, classified)
        out[rule_name] = summary
        if rule_name == "tracklets":
            kind = obs.drop_duplicates("object_id").set_index("object_id")["kind"]
            findable["kind"] = findable["object_id"].map(kind)
            found_ids = set(classified.loc[classified["found_pure"], "linked_object_id"])
            findable["found_pure"] = findable["object_id"].isin(found_ids)
            rows = findable[findable["findable"]]
            out["by_class"] = {k: [int(g["found_pure"].sum()), len(g)]
                               for k, g in rows.groupby("kind")}
            out["missed"] = sorted(rows.loc[~rows["found_pure"], "object_id"].tolist())
    out["detections_in_two_linkages"] = int(found["linkages"]["diaSourceId"].duplicated().sum())
    return out


def _losses(obs: pd.DataFrame, found: dict, missed: list) -> dict:
    """Where the project lost each missed findable object: no tracklet on 3 nights in a
    window, no pure candidate, or in the fits and purification."""
    import linking
    from linking.metrics import FindabilityRule

    member_obs = found["tracklet_members"].merge(obs, on="diaSourceId")
    own = member_obs.groupby("tracklet_id")["object_id"].agg(lambda s: s.nunique(dropna=False))
    pure_tracklets = member_obs[member_obs["tracklet_id"].map(own) == 1]
    built = linking.findable_objects(obs[obs["diaSourceId"].isin(pure_tracklets["diaSourceId"])],
                                     FindabilityRule())
    with_tracklets = set(built.loc[built["findable"], "object_id"])
    candidates = linking.classify_linkages(found["candidates"], obs)
    in_candidate = set(candidates.loc[candidates["found_pure"], "linked_object_id"])
    stages = {"no_tracklets_on_3_nights": [], "no_pure_candidate": [], "fits_purification": []}
    for object_id in missed:
        if object_id not in with_tracklets:
            stages["no_tracklets_on_3_nights"].append(object_id)
        elif object_id not in in_candidate:
            stages["no_pure_candidate"].append(object_id)
        else:
            stages["fits_purification"].append(object_id)
    return stages


def _checksum(detections: pd.DataFrame) -> str:
    data = detections[["diaSourceId", "midpointMjdTai", "ra", "dec"]].to_numpy(np.float64)
    return hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()[:16]


def run_field(name: str, seed: int, scale: float, workdir: Path, linkers, settings: dict,
              false_detections: int | None) -> dict:
    t0 = time.perf_counter()
    data = (fixture_field() if name == FIXTURE
            else simulate_field(name, seed, scale, false_detections))
    obs = _observations(data)
    real = obs["object_id"].notna()
    result = {
        "field": name, "what": FIELDS[name].what if name in FIELDS else "HelioLinC3D fixture",
        "simulate_s": time.perf_counter() - t0, "n_nights": data["n_nights"],
        "n_visits": None if data["visits"] is None else len(data["visits"]),
        "objects_simulated": data["n_objects"],
        "detections": {"total": len(obs), "real": int(real.sum()),
                       "false": int((~real).sum())},
        "detections_sha256_16": _checksum(data["detections"]), "linkers": {},
    }
    missing = _peer_missing()
    for linker in linkers:
        if linker == "heliolinc3d" and missing:
            result["linkers"][linker] = {"skipped": missing}
            continue
        found = _run_linker(linker, data, workdir, settings)
        scored = score(obs, found)
        entry = {"n_tracklets": found["n_tracklets"], "cpu_s": found["cpu_s"],
                 "wall_s": found["wall_s"], "peak_memory_mb": found["peak_memory_mb"],
                 **scored}
        if linker == "project":
            entry["losses"] = _losses(obs, found, scored["missed"])
        result["linkers"][linker] = entry
    return result


# --- report -------------------------------------------------------------------------------------

def _report(r: dict) -> None:
    d = r["detections"]
    print(f"\n== {r['field']}: {r['what']}")
    print(f"   {r['n_visits'] or '-'} visits on {r['n_nights']} nights, "
          f"{r['objects_simulated']} objects, {d['total']} detections ({d['real']} real, "
          f"{d['false']} false), checksum {r['detections_sha256_16']}")
    header = (f"   {'linker':<12}{'findable':>9}{'found pure':>11}{'complete':>9}"
              f"{'simple rule':>12}{'linkages':>9}{'pure':>8}{'in two':>7}{'tracklets':>10}"
              f"{'CPU s':>8}{'peak MB':>8}")
    print(header)
    for linker, e in r["linkers"].items():
        if "skipped" in e:
            print(f"   {linker:<12}skipped: {e['skipped']}")
            continue
        t, s = e["tracklets"], e["min_observations"]
        # The peer's process also holds the project (its warm-up, the hypothesis reader): its
        # high-water mark is not the peer's own.
        peak = f"{e['peak_memory_mb']:.0f}" if linker == "project" else "n/a"
        print(f"   {linker:<12}{t['num_findable']:>9}{t['num_found_pure']:>11}"
              f"{100 * t['completeness']:>8.2f}%{100 * s['completeness']:>11.2f}%"
              f"{t['num_linkages']:>9}{100 * t['pure_fraction']:>7.2f}%"
              f"{e['detections_in_two_linkages']:>7}{e['n_tracklets']:>10}"
              f"{e['cpu_s']['total']:>8.1f}{peak:>8}")
        by_class = ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(e["by_class"].items()))
        stages = ", ".join(f"{k} {v:.1f}" for k, v in e["cpu_s"].items() if k != "total")
        print(f"   {'':<12}by class: {by_class}; CPU by stage: {stages}")
        if "losses" in e:
            lost = "; ".join(f"{k.replace('_', ' ')}: {len(v)}" for k, v in e["losses"].items())
            print(f"   {'':<12}missed: {lost}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", nargs="+", choices=[*FIELDS, FIXTURE],
                        default=[*FIELDS, FIXTURE])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of each field's objects and false detections")
    parser.add_argument("--false-detections", type=int, default=None, metavar="N",
                        help="false detections per simulated field instead of its own number "
                             "(e.g. a window of 10^6 detections for the memory target)")
    parser.add_argument("--linkers", nargs="+", choices=list(LINKERS), default=list(LINKERS))
    parser.add_argument("--hypotheses", default=None, metavar="GRID",
                        help="the project's hypotheses (a built-in grid or a file) instead of "
                             "its default")
    args = parser.parse_args()
    for path in (VISITS, DETECTOR_CORNERS, MBA_TEMPLATES, NEO_TEMPLATES, TEN_OBJECTS):
        if not path.is_file():
            sys.exit(f"bench_linking needs the shared data: {path} not found")
    if not 0.0 < args.scale <= 1.0:
        sys.exit(f"--scale must be in (0, 1]; got {args.scale}")
    if args.false_detections is not None and args.false_detections < 0:
        sys.exit(f"--false-detections must be >= 0; got {args.false_detections}")
    settings = {} if args.hypotheses is None else {"hypotheses": args.hypotheses}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.fields:
            results.append(run_field(name, args.seed, args.scale, Path(tmp), args.linkers,
                                     settings, args.false_detections))
            _report(results[-1])
            sys.stdout.flush()
    payload = {"seed": args.seed, "scale": args.scale, "settings": settings,
               "false_detections": args.false_detections, "fields": results}
    print(f"wrote {write_results('bench_linking', payload)}")


if __name__ == "__main__":
    main()
