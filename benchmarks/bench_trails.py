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


def main() -> None:
    results = {"accuracy": accuracy(), "cramer_rao": cramer_rao(), "speed": speed()}
    print(f"accuracy: {results['accuracy']['n_trails']} trails, "
          f"{100 * results['accuracy']['converged']:.1f} % converged, "
          f"mean chi2/dof {results['accuracy']['chi2_dof_mean']:.3f}")
    print(pd.DataFrame(results["accuracy"]["pulls"]).to_string(index=False))
    print(pd.DataFrame(results["cramer_rao"]).round(3).to_string(index=False))
    print(pd.Series(results["speed"]).to_string())
    write_results("bench_trails", results)


if __name__ == "__main__":
    main()
