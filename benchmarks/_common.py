"""Helpers shared by the benchmark scripts: timing, synthetic orbits, result output."""

import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def best_of(fn, repeat: int = 5) -> tuple[float, float]:
    """Run ``fn`` ``repeat`` times; return (median, best) wall time in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), float(np.min(times))


def synthetic_kep_orbits(n: int, seed: int = 42, epoch_mjd_tdb: float = 61000.0) -> pd.DataFrame:
    """A seeded mix of main-belt (80 %), near-Earth (15 %) and outer (5 %) Keplerian orbits in
    the orbit-table schema of ``ephemerides.read_orbits``."""
    from ephemerides.designations import ss_object_ids

    rng = np.random.default_rng(seed)
    kind = rng.choice(3, size=n, p=[0.80, 0.15, 0.05])
    a = np.where(kind == 0, rng.uniform(2.1, 3.3, n),
                 np.where(kind == 1, rng.uniform(0.8, 2.5, n), rng.uniform(5.0, 45.0, n)))
    e = np.where(kind == 1, rng.uniform(0.05, 0.7, n), rng.uniform(0.0, 0.25, n))
    ids = [f"B{i:07d}" for i in range(n)]
    return pd.DataFrame(
        {
            "object_id": ids,
            "ssObjectId": ss_object_ids(ids),
            "format": "KEP",
            "a_au": a,
            "e": e,
            "inc_deg": rng.uniform(0.0, 30.0, n),
            "node_deg": rng.uniform(0.0, 360.0, n),
            "argperi_deg": rng.uniform(0.0, 360.0, n),
            "mean_anomaly_deg": rng.uniform(0.0, 360.0, n),
            "epoch_mjd_tdb": epoch_mjd_tdb,
            "H": rng.uniform(12.0, 22.0, n),
            "G": 0.15,
        }
    )


def write_results(name: str, payload: dict) -> Path:
    """Write ``payload`` with machine information to benchmarks/results/<name>.json."""
    RESULTS_DIR.mkdir(exist_ok=True)
    payload = {"benchmark": name, "machine": platform.platform(),
               "python": platform.python_version(), **payload}
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def survey_cadence(n_visits: int, seed: int, start_mjd_tai: float = 61000.0) -> pd.DataFrame:
    """About ``n_visits`` visits (pairs on a grid of fields) of one synthetic night."""
    import math

    from sso.cadence import synthetic_cadence

    fields = max(1, n_visits // 2)
    fields_dec = max(1, round(math.sqrt(fields / 2)))
    fields_ra = math.ceil(fields / fields_dec)
    return synthetic_cadence(seed, nights=1, start_mjd=start_mjd_tai, fields_ra=fields_ra,
                             fields_dec=fields_dec)
