"""Orbit determination (``linking.determine_orbit``) against JPL and on real astrometry.

1. **Independent truth.** JPL Horizons' astrometric positions of the 14 reference objects of
   ``../shared/data/truth`` (every dynamical class; 90 epochs over 60 days, from X05 and W84),
   given 0.1″ weights, noise-free: the determined orbit is propagated to Horizons' 90 state
   epochs and compared with Horizons' states (largest position difference, km).
2. **Real astrometry**, MPC 80-column files of ``tests/data``: (8467) Benoitcarry's 69
   observations of 2021, and every other ``mpc_*.obs`` there; weights by Vereš et al. (2017).
   Reported: status, observations kept, RMS, arc, CPU time.

Run: ``.venv/bin/python benchmarks/bench_orbit_determination.py``; writes
benchmarks/results/bench_orbit_determination.json.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ephemerides import propagate  # noqa: E402
from ephemerides.constants import AU_KM  # noqa: E402
from ephemerides.designations import ss_object_ids  # noqa: E402
from ephemerides.elements import ecliptic_to_equatorial, equatorial_to_ecliptic  # noqa: E402
from ephemerides.timescales import convert_mjd  # noqa: E402
from linking import determine_orbit, read_astrometry  # noqa: E402

TRUTH = ROOT.parent / "shared" / "data" / "truth"
STATE = ["x_au", "y_au", "z_au", "vx_au_per_day", "vy_au_per_day", "vz_au_per_day"]


def _orbit(name, state, epoch):
    ecliptic = np.concatenate([equatorial_to_ecliptic(state[:3]),
                               equatorial_to_ecliptic(state[3:])])
    return pd.DataFrame({"object_id": [name], "ssObjectId": ss_object_ids([name]),
                         "format": ["CART"], **{c: [v] for c, v in zip(STATE, ecliptic,
                                                                          strict=True)},
                         "epoch_mjd_tdb": [epoch], "H": [15.0], "G": [0.15]})


def against_horizons() -> list[dict]:
    eph = pd.read_csv(TRUTH / "horizons_ephemeris.csv", dtype={"object_id": str})
    states = pd.read_csv(TRUTH / "horizons_states.csv", dtype={"object_id": str})
    classes = pd.read_csv(TRUTH / "horizons_orbits.csv",
                          dtype={"object_id": str}).set_index("object_id")["dynamical_class"]
    rows = []
    for name, kind in classes.items():
        g = eph[eph["object_id"] == name]
        detections = pd.DataFrame({
            "diaSourceId": np.arange(len(g), dtype=np.int64), "designation": name,
            "midpointMjdTai": convert_mjd(g["mjd_utc"].to_numpy(), "utc", "tai"),
            "ra": g["RA"].to_numpy(), "dec": g["DEC"].to_numpy(),
            "observatoryCode": g["observatory_code"].to_numpy(),
            "raErr": 0.1 / 3600.0, "decErr": 0.1 / 3600.0})
        start = time.process_time()
        fit, _ = determine_orbit(detections)
        cpu = time.process_time() - start
        truth = states[states["object_id"] == name]
        ours = propagate(_orbit(name, fit.state, fit.epoch_mjd_tdb),
                         truth["mjd_tdb"].to_numpy(), frame="equatorial")
        off = np.linalg.norm(ours[STATE[:3]].to_numpy()
                             - ecliptic_to_equatorial(truth[STATE[:3]].to_numpy()), axis=1)
        rows.append({"object": name, "class": kind, "status": fit.status,
                     "kept": f"{int(fit.used.sum())}/{fit.used.size}",
                     "max_km_from_horizons": float(off.max() * AU_KM), "cpu_s": cpu})
    return rows


def real_astrometry() -> list[dict]:
    rows = []
    for path in sorted((ROOT / "tests" / "data").glob("mpc_*.obs")):
        table = read_astrometry(path, unsupported="skip")
        for name, part in table.groupby("designation"):
            start = time.process_time()
            fit, frame = determine_orbit(part.reset_index(drop=True))
            cpu = time.process_time() - start
            t = frame["midpointMjdTai"].to_numpy()
            rows.append({"file": path.name, "object": str(name), "status": fit.status,
                         "observations": int(fit.used.size), "kept": int(fit.used.sum()),
                         "kept_fraction": float(fit.used.mean()),
                         "rms_arcsec": fit.rms_arcsec, "arc_years": float(np.ptp(t) / 365.25),
                         "stations": int(frame["observatoryCode"].nunique()), "cpu_s": cpu})
    return rows


def main() -> None:
    results = {"horizons": against_horizons(), "real": real_astrometry()}
    for rows in results.values():
        print(pd.DataFrame(rows).to_string(index=False))
    out = ROOT / "benchmarks" / "results" / "bench_orbit_determination.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
