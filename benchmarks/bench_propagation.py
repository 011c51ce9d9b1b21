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

``--peer assist`` (``make bench-propagation-peer``) runs ASSIST side by side instead
(``_assist_peer.py`` in the benchmark-only environment ``.venv-assist``, on the same de440.bsp
and sb441-n16.bsp): the main-belt and near-Earth workloads and three NEAs with close Earth
passages in 2016, each from its state at the epoch to 1, 30 and 365 days, and (99942) Apophis
to the end of 2029, across its April 2029 passage, against ASSIST's default GR and against its
one-body GR (the project's); time ratio and position differences per span; writes
benchmarks/results/bench_propagation_assist.json.
"""

import argparse
import os
import subprocess
import sys
import tempfile
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
from ephemerides.constants import AU_KM  # noqa: E402
from ephemerides.elements import orbits_to_states  # noqa: E402
from ephemerides.twobody import propagate_2body  # noqa: E402

SPANS_DAYS = (1.0, 30.0, 365.0)
# Near-Earth asteroids that pass the Earth in 2016 (closest: 56,600 km, 151,000 km, and 2016 CH30)
# and (99942) Apophis, integrated to the end of 2029 (MJD TDB), past its April 2029 passage.
CLOSE_PASSAGES = ("2016 GN134", "2016 CG18", "2016 CH30")
APOPHIS = "99942"
APOPHIS_END_MJD_TDB = 62502.0


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


def _assist(states, epoch, targets, gr: str, python: str):
    """ASSIST's positions (n, k, 3) at ``targets`` and its wall time per target (one
    simulation of all particles each), from ``_assist_peer.py`` run by ``python``."""
    with tempfile.TemporaryDirectory() as folder:
        given, back = Path(folder) / "in.npz", Path(folder) / "out.npz"
        np.savez(given, states=states, epoch=epoch, targets=np.asarray(targets, np.float64),
                 planets=spk.default_planetary_kernel(), asteroids=spk.asteroid_kernel(), gr=gr)
        subprocess.run([python, str(Path(__file__).with_name("_assist_peer.py")), str(given),
                        str(back)], check=True)
        result = np.load(back)
        return result["positions"], result["seconds"]


def _difference_km(ours, theirs) -> np.ndarray:
    return np.linalg.norm(ours - theirs, axis=-1) * AU_KM


def peer_assist(python: str) -> dict:
    """The side-by-side comparison of ``--peer assist`` (module docstring)."""
    if not Path(python).is_file():
        sys.exit(f"ASSIST's environment not found at {python}: make bench-propagation-peer "
                 "creates it (pip install assist)")
    if spk.asteroid_kernel() is None:
        sys.exit("sb441-n16.bsp is not installed (the asteroids extra); ASSIST needs it")
    _first_call_seconds()
    nea = read_orbits(DATA / "orbits" / "nea_mpcorb_epoch_2016.txt")
    sets = {**_workloads(), "close Earth passages (3)": nea[nea["object_id"].isin(CLOSE_PASSAGES)]}
    rows = []
    for name, orbits in sets.items():
        bary, epochs = orbits_to_states(orbits, frame="equatorial", origin="ssb")
        epoch = float(epochs[0])
        assert np.all(epochs == epoch), "one common epoch per workload"
        targets = epoch + np.array(SPANS_DAYS)
        theirs, their_s = _assist(bary, epoch, targets, "default", python)
        names = orbits["object_id"].to_numpy()
        for k, span in enumerate(SPANS_DAYS):
            _, ours_s = best_of(lambda b=bary, e=epoch, t=targets[k]: nbody.integrate(b, e, [t]),
                                repeat=3)
            ours = nbody.integrate(bary, epoch, [targets[k]])[0][:, 0, :3]
            off = _difference_km(ours, theirs[:, k])
            rows.append({"workload": name, "days": span, "project_s": ours_s,
                         "assist_s": float(their_s[k]), "ratio": float(their_s[k]) / ours_s,
                         "median_m": float(np.median(off)) * 1e3,
                         "p99_m": float(np.percentile(off, 99)) * 1e3,
                         "max_km": float(off.max()), "worst": str(names[int(off.argmax())]),
                         "over_1_km": int((off > 1.0).sum())})
    apophis = nea[nea["object_id"] == APOPHIS]
    bary, epochs = orbits_to_states(apophis, frame="equatorial", origin="ssb")
    ours = nbody.integrate(bary, float(epochs[0]), [APOPHIS_END_MJD_TDB])[0][0, 0, :3]
    without = nbody.integrate(bary, float(epochs[0]), [APOPHIS_END_MJD_TDB],
                              harmonics=False)[0][0, 0, :3]
    apophis_km = {}
    for gr in ("default", "simple"):
        theirs = _assist(bary, float(epochs[0]), [APOPHIS_END_MJD_TDB], gr, python)[0][0, 0]
        apophis_km[f"assist {gr} GR"] = float(_difference_km(ours, theirs))
        apophis_km[f"assist {gr} GR, project without harmonics"] = float(
            _difference_km(without, theirs))
    return {"rows": rows, "apophis_end_2029_km": apophis_km}


def main_peer(python: str) -> None:
    result = peer_assist(python)
    print(f"{'workload':27s} {'days':>5s} {'project s':>9s} {'ASSIST s':>9s} {'ratio':>6s} "
          f"{'median m':>9s} {'p99 m':>7s} {'max km':>8s} {'> 1 km':>6s}  worst")
    for r in result["rows"]:
        print(f"{r['workload']:27s} {r['days']:5.0f} {r['project_s']:9.4f} {r['assist_s']:9.4f} "
              f"{r['ratio']:6.1f} {r['median_m']:9.1f} {r['p99_m']:7.0f} {r['max_km']:8.3f} "
              f"{r['over_1_km']:6d}  {r['worst']}")
    print("\n(99942) Apophis at the end of 2029, project - ASSIST (km)")
    for label, km in result["apophis_end_2029_km"].items():
        print(f"  {label:50s} {km:10.1f}")
    print(f"wrote {write_results('bench_propagation_assist', result)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peer", choices=["assist"], default=None,
                        help="run ASSIST side by side instead (module docstring)")
    parser.add_argument("--assist-python", default=str(ROOT / ".venv-assist" / "bin" / "python"),
                        help="python of ASSIST's environment (default .venv-assist)")
    arguments = parser.parse_args()
    if arguments.peer == "assist":
        main_peer(arguments.assist_python)
    else:
        main()
