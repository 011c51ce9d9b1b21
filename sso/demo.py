"""The demo (``sso demo``, ``make demo``): a simulated fortnight of an LSST-like survey, night by
night through ``sso night``, scored against the simulation's truth.

Survey: two fields at 3° spacing around the opposition point of the first night, visit pairs
every night for ``nights`` nights, each night kept with probability 0.75 (seeded; at least
three). Population: ``n_mba`` main-belt and ``n_neo`` near-Earth objects of the synthetic
population placed in the fields (:func:`sso.population.field_population`); 80 % of them form the
known catalogue, the rest are withheld — the objects the survey has to discover. Detections:
:func:`sso.simulate.simulate` with ``noise_per_deg2`` false detections per deg² per visit.

Every night runs :func:`sso.night.run_night` into ``out/state``. At the end the demo prints a
table — known objects: detections associated (recall) and false associations; new objects:
discoveries, completeness over the withheld objects that are findable (difi's rule: tracklets on
≥ 3 nights), purity, and their associations on later nights; time per stage over all nights —
and writes ``out/demo_summary.json``, ``out/visit_sky_map.png`` (one visit: DIASources,
predictions, associations) and ``out/linking_completeness.png`` (completeness against H and
against the rate of motion). The inputs are written into ``out/inputs`` (visits, DIASources,
truth, the catalogue and the whole population) so that each step can be rerun by hand.
"""

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

import linking
from ephemerides.designations import ss_object_ids
from ephemerides.errors import InputError
from ephemerides.progress import Progress, message
from ephemerides.provenance import recorded
from ephemerides.sky import unit_vectors
from sso.cadence import (
    check_seed,
    night_of,
    opposition_radec,
    synthetic_cadence,
    visit_midpoints,
)
from sso.io import check_output_folder, write_table_atomic, write_text_atomic
from sso.night import (
    NightSettings,
    latest_orbits,
    night_date,
    position_uncertainty_arcsec,
    run_night,
)
from sso.population import field_population
from sso.simulate import simulate

START_MJD_TAI = 61000.0
KNOWN_FRACTION = 0.8
NIGHT_KEPT_PROBABILITY = 0.75
HALF_WIDTH_DEG = 2.5  # the population's box: the two fields and a margin for motion


def _survey(seed: int, nights: int):
    """The visits (weather-thinned) and the field centre."""
    center = opposition_radec(START_MJD_TAI)
    visits = synthetic_cadence(seed, nights=nights, start_mjd=START_MJD_TAI, center=center,
                               fields_ra=2, fields_dec=1)
    night = night_of(visit_midpoints(visits))
    unique = np.unique(night)
    rng = np.random.default_rng([seed, 1])
    kept = unique[rng.random(unique.size) < NIGHT_KEPT_PROBABILITY]
    if kept.size < 3:
        kept = unique[np.sort(rng.choice(unique.size, 3, replace=False))]
    return visits[np.isin(night, kept)].reset_index(drop=True), center


@recorded(settings=("seed", "nights", "n_mba", "n_neo", "noise_per_deg2"))
def run_demo(out, seed: int = 1, nights: int = 14, n_mba: int = 1500, n_neo: int = 60,
             noise_per_deg2: float = 50.0, progress: Progress | None = None) -> dict:
    """Simulate, run every night, score, plot (module docstring); returns the summary.
    ``progress`` receives a message per step (:mod:`ephemerides.progress`; None: silent)."""
    out = check_output_folder(out)
    check_seed(seed)
    # Linking needs tracklets on three nights: at least three nights observed.
    if not (isinstance(nights, int) and nights >= 3):
        raise InputError(f"nights must be an integer >= 3 (linking needs three nights); "
                         f"got {nights!r}")
    for name, count in (("n_mba", n_mba), ("n_neo", n_neo)):
        if not (isinstance(count, int) and count >= 0):
            raise InputError(f"{name} must be an integer >= 0; got {count!r}")
    (out / "inputs").mkdir(parents=True, exist_ok=True)

    def say(text: str) -> None:
        message(progress, "demo", text)

    t0 = time.perf_counter()
    visits, center = _survey(seed, nights)
    midpoints = visit_midpoints(visits)
    epoch = 0.5 * float(midpoints.min() + midpoints.max())
    population, _ = field_population({"mba": n_mba, "neo": n_neo}, center, HALF_WIDTH_DEG,
                                     epoch, seed)
    known = np.random.default_rng([seed, 2]).random(len(population)) < KNOWN_FRACTION
    catalogue = population[known].reset_index(drop=True)
    sim = simulate(population, visits, seed, noise_per_deg2=noise_per_deg2, footprint="circle")
    for name, table in (("visits", sim.visits), ("diasources", sim.diasources),
                        ("truth", sim.truth), ("catalogue", catalogue),
                        ("population", population)):
        write_table_atomic(table, out / "inputs" / f"{name}.parquet")
    simulate_s = time.perf_counter() - t0
    say(f"{len(sim.diasources)} DIASources in {len(sim.visits)} visits on "
        f"{np.unique(night_of(midpoints)).size} nights; {len(catalogue)} of {len(population)} "
        "objects in the catalogue")

    dates = [night_date(n) for n in np.unique(night_of(midpoints))]
    reports = []
    for k, date in enumerate(dates):
        # The demo's survey starts again from its first night: a folder of an earlier demo is
        # rolled back (its caches reused) rather than refused.
        reports.append(run_night(date, sim.visits, sim.diasources, catalogue, out / "state",
                                 NightSettings(), rewind=k == 0))
        r = reports[-1]
        say(f"{date}: {r['n_associated']} of {r['n_diasources']} associated "
            f"({r['n_associated_with_earlier_discoveries']} with discoveries), "
            f"{r['n_new_objects']} new objects")
    summary = _score(out / "state", dates, sim, population, catalogue, reports)
    summary["seconds"]["simulation"] = round(simulate_s, 1)
    write_text_atomic(json.dumps(summary, indent=2) + "\n", out / "demo_summary.json")
    _plots(out, out / "state", dates, sim, population, catalogue, summary)
    print(_table(summary))
    return summary


def _score(state: Path, dates, sim, population, catalogue, reports) -> dict:
    truth = sim.truth.set_index("diaSourceId")["object_id"]
    ss_of = pd.Series(ss_object_ids(population["object_id"].to_numpy()),
                      index=population["object_id"].to_numpy())
    catalogued = set(catalogue["object_id"])
    right = false = 0
    for date in dates:
        dia = pd.read_parquet(state / "nights" / date / "diasources.parquet")
        linked = dia[dia["ssObjectId"].notna()]
        true_ss = linked["diaSourceId"].map(truth).map(ss_of)
        hits = true_ss.to_numpy() == linked["ssObjectId"].to_numpy(np.int64)
        known_hits = hits & linked["diaSourceId"].map(truth).isin(catalogued).to_numpy()
        right += int(known_hits.sum())
        false += int((~hits & linked["ssObjectId"].isin(set(
            ss_of[list(catalogued)])).to_numpy()).sum())
    observed = sim.diasources[["diaSourceId", "midpointMjdTai", "ra", "dec"]].merge(
        sim.truth[["diaSourceId", "object_id"]], on="diaSourceId")
    known_detections = int(observed["object_id"].isin(catalogued).sum())

    claimed = pd.read_parquet(state / "claimed.parquet")
    claimed["truth"] = claimed["diaSourceId"].map(truth).fillna("noise")
    groups = claimed.groupby("object_id")["truth"]
    pure = groups.nunique().eq(1) & groups.first().ne("noise")
    found = set(groups.first()[pure])
    withheld = observed[~observed["object_id"].isin(catalogued)]
    findable = linking.findable_objects(withheld)
    findable_ids = set(findable.loc[findable["findable"], "object_id"])
    seconds = {stage: round(sum(r["timings"].get(stage, 0.0) for r in reports), 1)
               for stage in ("association", "attribution", "window", "linking", "precovery")}
    # Orbits that improve: each discovery's predicted position uncertainty on the last night,
    # from its discovery orbit and from its latest refit.
    discovered = pd.read_parquet(state / "discovered.parquet")
    updates = pd.read_parquet(state / "orbit_updates.parquet")
    last = float(sim.diasources["midpointMjdTai"].max())
    at_discovery = position_uncertainty_arcsec(discovered, last, "X05")
    at_end = position_uncertainty_arcsec(latest_orbits(discovered, updates), last, "X05")
    nights_seen = updates.groupby("object_id")["n_nights"].max().reindex(
        discovered["object_id"]).to_numpy()
    ratio = at_discovery / at_end
    return {
        "nights": len(dates),
        "visits": len(sim.visits),
        "diasources": len(sim.diasources),
        "known": {"objects_in_catalogue": len(catalogue), "detections": known_detections,
                  "associated_right": right, "recall": right / max(known_detections, 1),
                  "false_associations": false},
        "new": {"withheld_objects": int(len(population) - len(catalogue)),
                "findable": len(findable_ids), "discoveries": len(pure),
                "pure_discoveries": int(pure.sum()),
                "found_findable": len(findable_ids & found),
                "completeness": len(findable_ids & found) / max(len(findable_ids), 1),
                "purity": float(pure.mean()) if len(pure) else float("nan"),
                "associated_on_later_nights": int(sum(
                    r["n_associated_with_earlier_discoveries"] for r in reports)),
                "precovered": int(sum(r.get("n_precovered", 0) for r in reports)),
                "orbits_refitted": int(updates["object_id"].nunique())},
        "uncertainty": {
            "median_at_discovery_arcsec": float(np.nanmedian(at_discovery))
            if len(discovered) else float("nan"),
            "median_at_end_arcsec": float(np.nanmedian(at_end))
            if len(discovered) else float("nan"),
            "objects_seen_6_nights": int(np.sum(nights_seen >= 6)),
            "min_shrink_6_nights": float(np.min(ratio[nights_seen >= 6]))
            if np.any(nights_seen >= 6) else float("nan"),
            "share_shrunk_10x_6_nights": float(np.mean(ratio[nights_seen >= 6] >= 10.0))
            if np.any(nights_seen >= 6) else float("nan"),
            "median_shrink": float(np.nanmedian(ratio)) if len(ratio) else float("nan")},
        "seconds": seconds,
        "found_ids": sorted(found),
        "findable_ids": sorted(findable_ids),
    }


def _table(s: dict) -> str:
    k, n, t, u = s["known"], s["new"], s["seconds"], s["uncertainty"]
    rows = [
        f"sso demo: {s['nights']} nights, {s['visits']} visits, {s['diasources']} DIASources",
        "",
        "known objects (catalogue)            ",
        f"  objects in the catalogue           {k['objects_in_catalogue']:>8}",
        f"  their detections                   {k['detections']:>8}",
        f"  associated to the right object     {k['associated_right']:>8}"
        f"   recall {100 * k['recall']:.2f} %",
        f"  false associations                 {k['false_associations']:>8}",
        "new objects (withheld from the catalogue)",
        f"  withheld objects                   {n['withheld_objects']:>8}",
        f"  findable (tracklets on >= 3 nights) {n['findable']:>7}",
        f"  discoveries (pure)                 {n['discoveries']:>8}"
        f"   ({n['pure_discoveries']} pure, purity {100 * n['purity']:.1f} %)",
        f"  findable objects discovered        {n['found_findable']:>8}"
        f"   completeness {100 * n['completeness']:.1f} %",
        f"  later detections associated to them {n['associated_on_later_nights']:>7}",
        f"  earlier detections precovered      {n['precovered']:>8}",
        f"  orbits refitted with them          {n['orbits_refitted']:>8}",
        "orbits that improve (predicted uncertainty on the last night, 1 sigma)",
        f"  median, from the discovery orbits  {u['median_at_discovery_arcsec']:>8.3f} arcsec",
        f"  median, from the latest orbits     {u['median_at_end_arcsec']:>8.3f} arcsec",
        f"  seen on >= 6 nights: objects       {u['objects_seen_6_nights']:>8}"
        f"   {100 * u['share_shrunk_10x_6_nights']:.0f} % shrunk >= 10x, all >= "
        f"{u['min_shrink_6_nights']:.0f}x",
        "time per stage, all nights (s)",
        *(f"  {stage:<34} {seconds:>8.1f}" for stage, seconds in t.items()),
    ]
    return "\n".join(rows)


def _rates_deg_per_day(observed: pd.DataFrame) -> pd.Series:
    """Mean rate of motion of each object over its detections (deg/day)."""
    rates = {}
    for object_id, group in observed.sort_values("midpointMjdTai").groupby("object_id"):
        first, last = group.iloc[0], group.iloc[-1]
        dt = last["midpointMjdTai"] - first["midpointMjdTai"]
        a = unit_vectors(first["ra"], first["dec"])
        b = unit_vectors(last["ra"], last["dec"])
        angle = np.degrees(np.arccos(np.clip(np.dot(a.ravel(), b.ravel()), -1.0, 1.0)))
        rates[object_id] = angle / dt if dt > 0 else np.nan
    return pd.Series(rates)


def _plots(out: Path, state: Path, dates, sim, population, catalogue, summary) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # One visit of the last night: the one with the most associations.
    night_dir = state / "nights" / dates[-1]
    dia = pd.read_parquet(night_dir / "diasources.parquet")
    sss = pd.read_parquet(night_dir / "sssources.parquet")
    missed = pd.read_parquet(night_dir / "unassociated_ssobjects.parquet")
    visit = int(dia.loc[dia["ssObjectId"].notna(), "visit"].value_counts().idxmax())
    shown = dia[dia["visit"] == visit]
    pairs = sss.merge(shown[["diaSourceId", "ra", "dec"]], on="diaSourceId")
    fig, ax = plt.subplots(figsize=(7, 7))
    ax.scatter(shown["ra"], shown["dec"], s=2, c="0.6", label=f"DIASources ({len(shown)})")
    ax.scatter(pairs["ephRa"], pairs["ephDec"], s=40, facecolors="none", edgecolors="C0",
               label=f"predictions, associated ({len(pairs)})")
    ax.scatter(pairs["ra"], pairs["dec"], s=6, c="C3", label="associated DIASources")
    gone = missed[missed["visit"] == visit]
    if len(gone):
        ax.scatter(gone["ephRa"], gone["ephDec"], s=40, marker="x", c="C1",
                   label=f"predicted, not seen ({len(gone)})")
    ax.invert_xaxis()
    ax.set_xlabel("RA (deg)")
    ax.set_ylabel("Dec (deg)")
    ax.set_title(f"visit {visit}, night of {dates[-1]}")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "visit_sky_map.png", dpi=110)
    plt.close(fig)

    # Completeness of the discoveries against H and rate, over the findable withheld objects.
    observed = sim.diasources[["diaSourceId", "midpointMjdTai", "ra", "dec"]].merge(
        sim.truth[["diaSourceId", "object_id"]], on="diaSourceId")
    findable = pd.Index(summary["findable_ids"])
    observed = observed[observed["object_id"].isin(findable)]
    h = population.set_index("object_id")["H"].reindex(findable)
    rate = _rates_deg_per_day(observed).reindex(findable)
    found = findable.isin(summary["found_ids"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, values, label in ((axes[0], h.to_numpy(), "H (mag)"),
                              (axes[1], rate.to_numpy(), "rate (deg/day)")):
        edges = np.linspace(np.nanmin(values), np.nanmax(values) + 1e-9, 9)
        index = np.digitize(values, edges) - 1
        totals = np.bincount(index, minlength=edges.size)[:edges.size - 1]
        hits = np.bincount(index[found], minlength=edges.size)[:edges.size - 1]
        centres = 0.5 * (edges[1:] + edges[:-1])
        shown = totals > 0
        ax.plot(centres[shown], hits[shown] / totals[shown], "o-")
        ax.set_ylim(0, 1.05)
        ax.set_xlabel(label)
        ax.set_ylabel("completeness (findable withheld objects)")
    fig.suptitle(f"discoveries: {summary['new']['found_findable']} of "
                 f"{summary['new']['findable']} findable")
    fig.tight_layout()
    fig.savefig(out / "linking_completeness.png", dpi=110)
    plt.close(fig)
