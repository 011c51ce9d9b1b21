"""Accuracy of the ephemerides against JPL Horizons, per dynamical class.

Run: ``.venv/bin/python benchmarks/accuracy_horizons.py``; needs ../shared/data/truth; writes
benchmarks/results/accuracy_horizons.json.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from _common import write_results  # noqa: E402
from horizons_truth import horizons_residuals, is_range_glitch  # noqa: E402

TRUTH = ROOT.parent / "shared" / "data" / "truth"


def main() -> None:
    if not TRUTH.is_dir():
        sys.exit(f"Horizons truth not found at {TRUTH}")
    res = horizons_residuals(TRUTH)
    # Documented Horizons-side range glitches (tests/horizons_truth.py) and V where Horizons
    # rounds it to whole magnitudes (phase ≥ 120°) are left out of the range and V columns.
    res["abs_range_m"] = res["topo_range_m"].abs().where(~is_range_glitch(res))
    res["abs_lt_us"] = res["light_time_us"].abs()
    res["abs_v"] = res["v_mag"].abs().where(res["horizons_phase_deg"] < 120.0)
    res["rate_rel"] = (res[["ra_rate_arcsec_per_h", "dec_rate_arcsec_per_h"]].abs().max(axis=1)
                       / res["total_rate_arcsec_per_h"])
    table = res.groupby("dynamical_class", sort=False).agg(
        n=("sky_mas", "size"),
        median_mas=("sky_mas", "median"),
        max_mas=("sky_mas", "max"),
        max_range_m=("abs_range_m", "max"),
        max_lt_us=("abs_lt_us", "max"),
        max_rate_rel=("rate_rel", "max"),
        max_dv_mag=("abs_v", "max"),
    )
    table.loc["all"] = [len(res), res["sky_mas"].median(), res["sky_mas"].max(),
                        res["abs_range_m"].max(), res["abs_lt_us"].max(), res["rate_rel"].max(),
                        res["abs_v"].max()]
    print(table.to_string(float_format=lambda v: f"{v:.4g}"))
    path = write_results("accuracy_horizons", {"per_class": table.reset_index().to_dict("records")})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
