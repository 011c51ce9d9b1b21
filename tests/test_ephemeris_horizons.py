"""Ephemerides against JPL Horizons: every object class, Rubin (X05) and DECam (W84) sites.

Each Horizons row is predicted from the Horizons state at the same instant, so these tests
check the observation model (time scales, observer, light time, frames, photometry), not
long-arc dynamics. Tolerances are in physical units, each with its reason.
"""

import numpy as np
import pytest
from horizons_truth import (
    HELIO_RANGE_BIAS_OBJECT,
    OUTLIER_OBJECT,
    RANGE_GLITCHES,
    horizons_residuals,
    is_range_glitch,
)


@pytest.fixture(scope="module")
def residuals(shared_data):
    return horizons_residuals(shared_data / "truth")


def test_every_row_compared(residuals):
    assert len(residuals) == 1260
    assert set(residuals["observatory_code"]) == {"X05", "W84"}
    assert residuals.notna().all().all()


def test_astrometric_position(residuals):
    # Target: 0.1 mas median, 1 mas worst. Horizons prints RA/Dec to 1e-9 deg (3.6 µas), so the
    # median is limited by our model, not by rounding of the truth.
    sky = residuals["sky_mas"]
    assert np.median(sky) <= 0.1
    others = residuals[residuals["object_id"] != OUTLIER_OBJECT]
    assert others["sky_mas"].max() <= 1.0
    # The documented outlier is allowed one epoch above 1 mas, no more, and never above 2 mas.
    outlier = residuals.loc[residuals["object_id"] == OUTLIER_OBJECT, "sky_mas"]
    assert (outlier > 1.0).sum() <= 1
    assert outlier.max() <= 2.0


def test_distances_and_light_time(residuals):
    # 20 m: the MPC parallax constants place X05, W84 within 9–11 m of the sites Horizons uses
    # (tests/test_observers.py); Horizons prints delta to 1e-13 AU (1.5 cm).
    glitch = is_range_glitch(residuals)
    assert glitch.sum() == len(RANGE_GLITCHES)
    assert residuals.loc[~glitch, "topo_range_m"].abs().max() <= 20.0
    assert residuals.loc[glitch, "topo_range_m"].abs().max() <= 200.0
    biased = residuals["object_id"] == HELIO_RANGE_BIAS_OBJECT
    assert residuals.loc[~biased & ~glitch, "helio_range_m"].abs().max() <= 20.0
    assert residuals.loc[biased, "helio_range_m"].abs().max() <= 200.0
    # 10 µs: Horizons prints light time in minutes to 1e-8 (0.6 µs); 20 m of range is 0.07 µs.
    assert residuals["light_time_us"].abs().max() <= 10.0


def test_rates(residuals):
    # 0.1 % of the total sky rate: Horizons prints rates to 1e-5 arcsec/h; the floor of
    # 1e-4 arcsec/h covers that rounding for the slowest TNO epochs.
    tol = np.maximum(1e-3 * residuals["total_rate_arcsec_per_h"], 1e-4)
    assert (residuals["ra_rate_arcsec_per_h"].abs() <= tol).all()
    assert (residuals["dec_rate_arcsec_per_h"].abs() <= tol).all()


def test_photometric_geometry_and_magnitude(residuals):
    # V: 0.01 mag where the H, G system is defined (phase < 120°), Horizons printing 1e-3 mag;
    # beyond 120° Horizons rounds V to whole magnitudes (2020 AV2 near conjunction), so 0.5 mag.
    defined = residuals["horizons_phase_deg"] < 120.0
    assert residuals.loc[defined, "v_mag"].abs().max() <= 0.01
    assert residuals.loc[~defined, "v_mag"].abs().max() <= 0.5
    # Phase and elongation between apparent (aberrated) directions, as Horizons defines them;
    # it prints both to 1e-4 deg, hence 2e-4 deg.
    assert residuals["phase_deg"].abs().max() <= 2e-4
    assert residuals["elongation_deg"].abs().max() <= 2e-4
