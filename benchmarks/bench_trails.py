"""Trailed-source measurement (``sso.trails.measure_trails``): accuracy against trails rendered
independently of its model, and speed, beside a straightforward SciPy fit.

1. **Accuracy.** 2,000 trails, length 2–20 px, any angle, matched-filter SNR 20–200, PSF σ 2 px,
   each rendered as a sum of 400 Gaussian PSFs along its segment (``tests/references.py``, not
   the fitted erf model) in its own 41×41 stamp with unit Gaussian noise, the fit started
   0.5 px off in a random direction: converged share, and the pulls (error / reported σ) of
   position, length, angle (length ≥ 4 px) and flux.
2. **Cramér–Rao.** Nine (length, SNR ≥ 50) cases, 300 noise draws each: the scatter of the
   estimates and the median reported error, both over the Cramér–Rao bound of the reference
   rendering (its Fisher matrix by central differences).
3. **Speed.** 10,000 trails in 41×41 stamps of one mosaic, one call, one core (the kernel is
   serial), best of 5; beside ``scipy.optimize.least_squares`` (Levenberg–Marquardt, numerical
   Jacobian) of the same model on each 41×41 stamp, started near the truth (0.5 px off,
   length × 0.8, angle + 0.1 rad, flux × 0.8), on 200 trails.
4. **Linking gain.** Real near-Earth asteroids (the shared MPCORB file, N-body truth from X05)
   in three 15-night windows: every one moving 2–20°/day at solar elongation > 60° on at least
   3 nights, seen once on 3–6 of those nights, its trail rendered in a cutout (0.2″ pixels,
   0.8″ seeing, 30 s, SNR 10–100 log-uniform; ``sso.cutouts``) and measured there, the trail
   fit's centre and errors as the DIASource's position. Linked (``linking.link``) with the
   default settings, without the dense near-Earth grid for trail tracklets
   (``trail_hypotheses=None``) and without trail tracklets: objects in a pure linkage,
   linkages, impure ones, wall time.
5. **Ordinary field.** bench_linking's twilight field (the real LSST cadence and focal plane,
   main-belt objects, NEOs, ~60,000 false detections) with every detection's cutout measured:
   linked with and without trail tracklets, scored as bench_linking scores it (findable = a
   tracklet on ≥ 3 nights), to show what trail tracklets cost and that nothing is lost.

Run: ``.venv/bin/python benchmarks/bench_trails.py``; writes benchmarks/results/bench_trails.json.
"""

import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares
from scipy.special import erf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from _common import write_results  # noqa: E402
from references import trail_fisher, trail_mosaic, trail_reference  # noqa: E402

from sso.trails import measure_trails, render_trails  # noqa: E402

SIGMA = 2.0
STAMP = 41


def _reference(x0, y0, length, angle, flux):
    return trail_reference((STAMP, STAMP), x0, y0, length, angle, flux, SIGMA)


def accuracy(n: int = 2000) -> dict:
    rng = np.random.default_rng(11)
    lengths, angles = rng.uniform(2.0, 20.0, n), rng.uniform(0.0, 180.0, n)
    image, truth, x, y = trail_mosaic(rng, lengths, angles, rng.uniform(20.0, 200.0, n), SIGMA,
                                      stamp=STAMP)
    fits = measure_trails(image, np.ones(image.shape), SIGMA, x, y)
    good = ~fits["flag_no_converge"].to_numpy()
    angle_off = (fits["angle_deg"].to_numpy() - truth[:, 3] + 90.0) % 180.0 - 90.0
    pulls = {
        "x": (fits["x_px"] - truth[:, 0]) / fits["x_px_err"],
        "y": (fits["y_px"] - truth[:, 1]) / fits["y_px_err"],
        "length": (fits["length_px"] - truth[:, 2]) / fits["length_px_err"],
        "angle (length >= 4 px)": angle_off / fits["angle_deg_err"],
        "flux": (fits["flux"] - truth[:, 4]) / fits["flux_err"],
    }
    rows = []
    for name, pull in pulls.items():
        keep = good & (truth[:, 2] >= 4.0) if name.startswith("angle") else good
        values = pull.to_numpy()[keep]
        rows.append({"parameter": name, "pull_mean": float(values.mean()),
                     "pull_std": float(values.std()), "n": int(keep.sum())})
    return {"n_trails": n, "converged": float(good.mean()),
            "chi2_dof_mean": float(fits.loc[good, "chi2_dof"].mean()), "pulls": rows}


def cramer_rao(draws: int = 300) -> list[dict]:
    rng = np.random.default_rng(12)
    rows = []
    for length in (4.0, 10.0, 18.0):
        for snr in (50.0, 100.0, 200.0):
            angle = float(rng.uniform(0.0, 180.0))
            params = [20.2, 19.7, length, math.radians(angle), 1.0]
            model = _reference(20.2, 19.7, length, angle, 1.0)
            variance = (model**2).sum() / snr**2
            bound = np.sqrt(np.diag(np.linalg.inv(trail_fisher(params, variance, SIGMA, STAMP))))
            estimates, errors = [], []
            for _ in range(draws):
                fit = measure_trails(model + rng.normal(0.0, math.sqrt(variance), model.shape),
                                     np.full(model.shape, variance), SIGMA, [20.6],
                                     [19.4]).iloc[0]
                estimates.append([fit.x_px, fit.y_px, fit.length_px,
                                  math.radians(fit.angle_deg), fit.flux])
                errors.append([fit.x_px_err, fit.y_px_err, fit.length_px_err,
                               math.radians(fit.angle_deg_err), fit.flux_err])
            offsets = np.array(estimates) - params
            offsets[:, 3] = (offsets[:, 3] + math.pi / 2) % math.pi - math.pi / 2
            scatter = offsets.std(axis=0) / bound
            reported = np.median(errors, axis=0) / bound
            rows.append({"length_px": length, "snr": snr,
                         **{f"scatter/CRB {p}": float(v) for p, v in
                            zip(("x", "y", "L", "angle", "flux"), scatter, strict=True)},
                         **{f"error/CRB {p}": float(v) for p, v in
                            zip(("x", "y", "L", "angle", "flux"), reported, strict=True)}})
    return rows


def _scipy_fit(stamp, start):
    """The straightforward fit: the erf model on every pixel of the stamp, SciPy's
    Levenberg–Marquardt with a finite-difference Jacobian."""
    yy, xx = np.mgrid[0:STAMP, 0:STAMP].astype(np.float64)

    def residual(p):
        x0, y0, length, theta, flux = p
        length = max(abs(length), 1e-3)
        c, s = math.cos(theta), math.sin(theta)
        along = (xx - x0) * c + (yy - y0) * s
        across = -(xx - x0) * s + (yy - y0) * c
        a = math.sqrt(2.0) * SIGMA
        model = (flux / (2.0 * math.sqrt(2.0 * math.pi) * SIGMA * length)
                 * np.exp(-0.5 * across**2 / SIGMA**2)
                 * (erf((along + 0.5 * length) / a) - erf((along - 0.5 * length) / a)))
        return (stamp - model).ravel()

    return least_squares(residual, start, method="lm")


def speed(n: int = 10000, n_scipy: int = 200) -> dict:
    rng = np.random.default_rng(13)
    lengths, angles = rng.uniform(2.0, 20.0, n), rng.uniform(0.0, 180.0, n)
    image, truth, x, y = trail_mosaic(
        rng, lengths, angles, rng.uniform(20.0, 200.0, n), SIGMA,
        lambda shape, x0, y0, length, angle, flux: render_trails(shape, x0, y0, length, angle,
                                                                 flux, SIGMA), STAMP)
    variance = np.ones(image.shape)
    measure_trails(image[:STAMP, :STAMP], variance[:STAMP, :STAMP], SIGMA, [20.0], [20.0])
    times = []
    for _ in range(5):
        start = time.perf_counter()
        fits = measure_trails(image, variance, SIGMA, x, y)
        times.append(time.perf_counter() - start)
    side = math.ceil(math.sqrt(n))
    start = time.perf_counter()
    scipy_ok = 0
    for k in range(n_scipy):
        j0, i0 = (k // side) * STAMP, (k % side) * STAMP
        guess = [x[k] - i0, y[k] - j0, lengths[k] * 0.8, math.radians(angles[k]) + 0.1,
                 truth[k, 4] * 0.8]
        result = _scipy_fit(image[j0:j0 + STAMP, i0:i0 + STAMP], guess)
        scipy_ok += int(result.success)
    scipy_rate = n_scipy / (time.perf_counter() - start)
    return {"n_trails": n, "stamp_px": STAMP, "trails_per_s": n / min(times),
            "median_trails_per_s": n / float(np.median(times)),
            "converged": float((~fits["flag_no_converge"]).mean()),
            "mean_iterations": float(fits["n_iterations"].mean()),
            "mean_pixels": float(fits["n_pixels"].mean()),
            "scipy_least_squares_trails_per_s": scipy_rate, "scipy_converged": scipy_ok / n_scipy}


# --- 4. linking gain -------------------------------------------------------------------------

NEO_WINDOWS = (57400.2, 57440.2, 57480.2)  # first nights (MJD TAI) of the 15-night windows
NEO_NIGHTS = 15
EXPOSURE_S = 30.0
PIXEL_SCALE = 0.2  # arcsec (Rubin)
PSF_SIGMA_PX = 0.8 / 2.3548 / PIXEL_SCALE  # 0.8″ seeing


def neo_window(start: float, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """DIASources of the real NEAs moving 2-20°/day at solar elongation > 60° on at least 3 of
    the window's nights, each seen once on 3-6 of those nights (random ones, at a random time
    of the night), with trails measured on rendered cutouts; and the truth per
    ``diaSourceId``."""
    from ephemerides import ephemeris, read_orbits
    from sso.cutouts import render_cutouts, with_measured_trails

    orbits = read_orbits(ROOT.parent / "shared" / "data" / "orbits" / "nea_mpcorb_epoch_2016.txt")
    nights = start + np.arange(NEO_NIGHTS, dtype=np.float64)
    screen = ephemeris(orbits, nights, observatory_code="X05", time_scale="tai", method="2body")
    rate = np.hypot(screen["ra_rate_deg_per_day"], screen["dec_rate_deg_per_day"])
    screen["ok"] = (rate > 2.0) & (rate < 20.0) & (screen["elongation_deg"] > 60.0)
    rng = np.random.default_rng(seed)
    parts = []
    for name, night_ok in screen.groupby("object_id", sort=True)["ok"]:
        good = np.flatnonzero(night_ok.to_numpy())
        if good.size < 3:
            continue
        chosen = np.sort(rng.choice(good, min(int(rng.integers(3, 7)), good.size),
                                    replace=False))
        times = nights[chosen] + rng.uniform(0.0, 0.2, chosen.size)
        parts.append(ephemeris(orbits[orbits["object_id"] == name], times, observatory_code="X05",
                               time_scale="tai", method="nbody").assign(t=times))
    truth = pd.concat(parts, ignore_index=True)
    n = len(truth)
    ids = np.arange(n, dtype=np.int64)
    offset = rng.normal(0.0, 0.1 / 3600.0, (2, n))  # the stamp centre: a first centroid
    ra0 = truth["ra_deg"] + offset[0] / np.cos(np.radians(truth["dec_deg"]))
    dec0 = truth["dec_deg"] + offset[1]
    snr = np.exp(rng.uniform(np.log(10.0), np.log(100.0), n))
    cutouts = render_cutouts(rng, ids, ra0, dec0, truth["ra_deg"], truth["dec_deg"],
                             truth["ra_rate_deg_per_day"], truth["dec_rate_deg_per_day"],
                             EXPOSURE_S, snr, np.ones(n), PSF_SIGMA_PX, PIXEL_SCALE)
    detections = with_measured_trails(pd.DataFrame({
        "diaSourceId": ids, "midpointMjdTai": truth["t"], "ra": ra0, "dec": dec0,
        "raErr": 0.1 / 3600.0, "decErr": 0.1 / 3600.0, "visitExposureTime_s": EXPOSURE_S,
    }), cutouts)
    # The trail fit's centre is the DIASource's position where it converged.
    fitted = detections["trailRaErr"].notna()
    for name in ("ra", "dec"):
        detections.loc[fitted, name] = detections.loc[fitted, f"trail{name.title()}"]
        detections.loc[fitted, f"{name}Err"] = detections.loc[fitted, f"trail{name.title()}Err"]
    return detections, pd.Series(truth["object_id"].to_numpy(), index=ids)


def _linked(detections: pd.DataFrame, truth: pd.Series, config) -> dict:
    import linking

    start = time.perf_counter()
    result = linking.link(detections, config)
    wall = time.perf_counter() - start
    owner = result.members["diaSourceId"].map(truth)
    per = owner.groupby(result.members["linkage_id"])
    pure = per.nunique() == 1
    return {"linked": set(per.first()[pure]), "linkages": len(result.linkages),
            "impure": int((~pure).sum()), "wall_s": wall}


def linking_gain() -> dict:
    """NEOs seen once per night (three windows), linked with the default configuration, without
    the dense near-Earth grid for trail tracklets, and without trail tracklets."""
    import linking
    from linking.detections import usable_trails

    configs = {"default": linking.LinkingConfig(),
               "no close grid": linking.LinkingConfig(trail_hypotheses=None),
               "no trail tracklets": linking.LinkingConfig(
                   tracklets=linking.TrackletConfig(trail_tracklets=False))}
    totals = {name: {"linked": 0, "linkages": 0, "impure": 0, "wall_s": 0.0} for name in configs}
    objects = usable_objects = detections_total = usable_total = 0
    for k, start in enumerate(NEO_WINDOWS):
        detections, truth = neo_window(start, seed=100 + k)
        frame = linking.prepare_detections(detections)
        usable = usable_trails(frame, linking.TrackletConfig().min_trail_sigma)
        nights = (frame.loc[usable].assign(owner=frame.loc[usable, "diaSourceId"].map(truth))
                  .groupby("owner")["night"].nunique())
        objects += truth.nunique()
        usable_objects += int((nights >= 3).sum())
        detections_total += len(detections)
        usable_total += int(usable.sum())
        for name, config in configs.items():
            found = _linked(detections, truth, config)
            for key in ("linkages", "impure", "wall_s"):
                totals[name][key] += found[key]
            totals[name]["linked"] += len(found["linked"])
    return {"windows": len(NEO_WINDOWS), "objects": objects, "detections": detections_total,
            "usable_trails": usable_total, "objects_with_3_usable_nights": usable_objects,
            "configs": totals}


def ordinary_field(name: str = "twilight") -> dict:
    """One of bench_linking's fields (the real LSST cadence, main-belt objects and NEOs, false
    detections), every detection with a measured cutout: linked with and without trail
    tracklets, scored as bench_linking scores it."""
    from bench_linking import _observations, score, simulate_field

    import linking
    from sso.cutouts import with_measured_trails

    data = simulate_field(name, seed=1, scale=1.0, cutouts=True)
    exposure = data["visits"].set_index("observationId")["visitExposureTime"]
    start = time.perf_counter()
    detections = with_measured_trails(data["detections"], data["cutouts"]).assign(
        visitExposureTime_s=lambda d: d["visit"].map(exposure))
    measure_s = time.perf_counter() - start
    obs = _observations(data)
    out = {"field": name, "detections": len(detections), "measure_s": measure_s}
    for label, config in (("trail tracklets", linking.LinkingConfig()),
                          ("none", linking.LinkingConfig(
                              tracklets=linking.TrackletConfig(trail_tracklets=False)))):
        start = time.perf_counter()
        tracklets = linking.make_tracklets(detections, config.tracklets)
        result = linking.link(detections, config)
        wall = time.perf_counter() - start
        scored = score(obs, {"linkages": result.members[["linkage_id", "diaSourceId"]]})
        summary = scored["tracklets"]
        out[label] = {"trail_tracklets": int((tracklets.tracklets["n_detections"] == 1).sum()),
                      "findable": summary["num_findable"], "found": summary["num_found_pure"],
                      "linkages": summary["num_linkages"], "pure": summary["num_pure"],
                      "by_class": scored["by_class"], "wall_s": wall}
    return out


def main() -> None:
    results = {"accuracy": accuracy(), "cramer_rao": cramer_rao(), "speed": speed(),
               "linking_gain": linking_gain(), "ordinary_field": ordinary_field()}
    print(f"accuracy: {results['accuracy']['n_trails']} trails, "
          f"{100 * results['accuracy']['converged']:.1f} % converged, "
          f"mean chi2/dof {results['accuracy']['chi2_dof_mean']:.3f}")
    print(pd.DataFrame(results["accuracy"]["pulls"]).to_string(index=False))
    print(pd.DataFrame(results["cramer_rao"]).round(3).to_string(index=False))
    print(pd.Series(results["speed"]).to_string())
    gain = results["linking_gain"]
    print(f"linking: {gain['objects']} NEOs in {gain['windows']} windows, "
          f"{gain['objects_with_3_usable_nights']} with usable trails on >= 3 nights")
    print(pd.DataFrame(gain["configs"]).T.to_string())
    print(results["ordinary_field"])
    write_results("bench_trails", results)


if __name__ == "__main__":
    main()
