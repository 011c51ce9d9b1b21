"""H, G magnitudes: the IAU (1985) phase function written out with the math module."""

import math

import numpy as np

from ephemerides.photometry import hg_apparent_magnitude


def _reference_v(H, G, r, delta, alpha_deg):
    t = math.tan(math.radians(alpha_deg) / 2.0)
    phi1 = math.exp(-3.33 * t**0.63)
    phi2 = math.exp(-1.87 * t**1.22)
    return H + 5.0 * math.log10(r * delta) - 2.5 * math.log10((1.0 - G) * phi1 + G * phi2)


def test_zero_phase_is_distance_modulus():
    assert np.isclose(hg_apparent_magnitude(15.0, 0.15, 2.0, 1.0, 0.0), 15.0 + 5 * np.log10(2.0))


def test_against_reference_over_phase_angles():
    alphas = np.array([0.5, 5.0, 20.0, 60.0, 120.0])
    got = hg_apparent_magnitude(10.0, 0.25, 3.0, 2.5, alphas)
    want = [_reference_v(10.0, 0.25, 3.0, 2.5, a) for a in alphas]
    assert np.allclose(got, want, rtol=0, atol=1e-12)
    # Fainter with phase: the opposition surge is the steep start of the curve.
    assert np.all(np.diff(got) > 0)


def test_missing_h_gives_nan():
    assert np.isnan(hg_apparent_magnitude(np.nan, 0.15, 2.0, 1.0, 10.0))
