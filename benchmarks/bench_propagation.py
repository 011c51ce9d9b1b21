"""N-body and 2-body propagation speed (one core) and accuracy against JPL Horizons.

Work, as in the issue: (a) the 1,000 synthetic main-belt orbits of
../shared/data/orbits/s3m_mba_1000_cart.csv and (b) 1,000 real near-Earth orbits (the first
1,000 of nea_mpcorb_epoch_2016.txt), each propagated 1, 30 and 365 days in one batch; (c) the
2-body path on the same work. Times are medians of repeated runs after a first call whose time
(JIT compilation or loading of the Numba cache, kernel loading) is reported separately. The
integrator row is comparable to one ASSIST simulation holding all particles (0.057 s, 0.092 s,
0.43 s for (a) on this machine kind); the `propagate` row adds orbit conversion and the table.

Run: ``.venv/bin/python benchmarks/bench_propagation.py``; writes
benchmarks/results/bench_propagation.json.
"""

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np
from _common import best_of, write_results

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
DATA = ROOT.parent / "shared" / "data"

from horizons_truth import propagation_errors  # noqa: E402

from ephemerides import nbody, propagate, read_orbits, spk  # noqa: E402
from ephemerides.elements import orbits_to_states  # noqa: E402
from ephemerides.twobody import propagate_2body  # noqa: E402

SPANS_DAYS = (1.0, 30.0, 365.0)


def _first_call_seconds() -> float:
    """Time of the very first integration in this process (compilation or cache load)."""
    orbits = read_orbits(DATA / "orbits" / "s3m_mba_1000_cart.csv").head(2)
    t0 = time.perf_counter()
    propagate(orbits, orbits["epoch_mjd_tdb"].iloc[0] + 1.0)
    return time.perf_counter() - t0


def _workloads():
    mba = read_orbits(DATA / "orbits" / "s3m_mba_1000_cart.csv")
    nea = read_orbits(DATA / "orbits" / "nea_mpcorb_epoch_2016.txt").head(1000)
    return {"main belt (s3m, 1000)": mba, "near-Earth (MPCORB, 1000)": nea}


def main() -> None:
    if not DATA.is_dir():
        sys.exit(f"reference data not found at {DATA}")
    first = _first_call_seconds()
    perturbers = spk.load_perturbers()
    rows = []
    for name, orbits in _workloads().items():
        bary, epochs = orbits_to_states(orbits, frame="equatorial", origin="ssb")
        helio, _ = orbits_to_states(orbits, frame="equatorial", origin="sun")
        epoch = float(epochs[0])
        assert np.all(epochs == epoch), "one common epoch per workload"
        for span in SPANS_DAYS:
            target = np.array([epoch + span])
            integ, _ = best_of(lambda b=bary, e=epoch, t=target: nbody.integrate(
                b, e, t, perturbers=perturbers))
            full, _ = best_of(lambda o=orbits, t=target: propagate(o, t))
            kepler, _ = best_of(lambda h=helio, e=epochs, t=target: propagate_2body(h, e, t))
            result = nbody.integrate_detailed(bary, epoch, target, perturbers=perturbers)
            rows.append({
                "workload": name, "days": span, "integrator_s": integ, "propagate_s": full,
                "two_body_s": kepler, "steps": result.steps,
                "failed": int((result.status != 0).sum()),
                "object_days_per_s": len(orbits) * span / integ,
            })
    errors = propagation_errors(DATA / "truth")
    accuracy = errors.groupby("dynamical_class", sort=False)["error_m"].agg(["median", "max"])

    print(f"first call (JIT compile or cache load, kernels): {first:.2f} s; "
          f"perturbers: {len(perturbers.naif_ids)} bodies")
    print(f"{'workload':27s} {'days':>5s} {'integrator s':>12s} {'propagate s':>11s} "
          f"{'2-body s':>9s} {'steps':>6s} {'object-days/s':>14s}")
    for r in rows:
        print(f"{r['workload']:27s} {r['days']:5.0f} {r['integrator_s']:12.4f} "
              f"{r['propagate_s']:11.4f} {r['two_body_s']:9.5f} {r['steps']:6d} "
              f"{r['object_days_per_s']:14,.0f}")
    print("\nposition error vs Horizons over ±30 days from one state (m)")
    print(accuracy.to_string(float_format=lambda v: f"{v:.2f}"))
    path = write_results("bench_propagation", {
        "first_call_s": first,
        "perturbers": [int(i) for i in perturbers.naif_ids],
        "rows": rows,
        "accuracy_m": accuracy.reset_index().to_dict("records"),
        "assist_reference_s": {"1": 0.057, "30": 0.092, "365": 0.43},
    })
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
