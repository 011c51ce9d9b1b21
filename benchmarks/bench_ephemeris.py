"""2-body ephemeris throughput: 10^4 orbits × 100 epochs on one core.

Measures (1) the universal-variable Kepler propagation kernel alone and (2) the whole
``ephemerides.ephemeris`` call (propagation, observer, light-time iteration, observables,
table). Run: ``.venv/bin/python benchmarks/bench_ephemeris.py``; writes
benchmarks/results/bench_ephemeris.json. Target: ≥ 10^6 object-epochs/s/core for the kernel.
"""

import argparse
import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np
from _common import best_of, synthetic_kep_orbits, write_results

from ephemerides import ephemeris
from ephemerides.elements import orbits_to_states
from ephemerides.twobody import propagate_2body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orbits", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    orbits = synthetic_kep_orbits(args.orbits)
    times_tdb = 61000.0 + np.linspace(-30.0, 30.0, args.epochs)
    states, epochs = orbits_to_states(orbits, frame="equatorial", origin="sun")
    n = args.orbits * args.epochs

    propagate_2body(states[:10], epochs[:10], times_tdb[:2])  # compile outside the timing
    ephemeris(orbits.head(10), times_tdb[:2], time_scale="tdb", method="2body")
    prop_med, prop_best = best_of(lambda: propagate_2body(states, epochs, times_tdb), args.repeat)
    eph_med, eph_best = best_of(
        lambda: ephemeris(orbits, times_tdb, observatory_code="X05", time_scale="tdb",
                          method="2body"),
        max(1, args.repeat // 2),
    )
    rows = [
        ("kepler propagation kernel", prop_med, n / prop_med),
        ("ephemeris (light time + observables)", eph_med, n / eph_med),
    ]
    print(f"{args.orbits} orbits × {args.epochs} epochs = {n:,} object-epochs, 1 thread")
    print(f"{'stage':40s} {'median s':>10s} {'object-epochs/s':>16s}")
    for name, sec, rate in rows:
        print(f"{name:40s} {sec:10.3f} {rate:16,.0f}")
    path = write_results(
        "bench_ephemeris",
        {
            "orbits": args.orbits,
            "epochs": args.epochs,
            "object_epochs": n,
            "kernel_median_s": prop_med,
            "kernel_best_s": prop_best,
            "kernel_object_epochs_per_s": n / prop_med,
            "ephemeris_median_s": eph_med,
            "ephemeris_best_s": eph_best,
            "ephemeris_object_epochs_per_s": n / eph_med,
            "target_kernel_object_epochs_per_s": 1e6,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
