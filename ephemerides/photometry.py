"""Apparent magnitudes of asteroids in the IAU (H, G) system (Bowell et al. 1989)."""

import numpy as np

# Phase-function constants of the two-parameter H, G magnitude system, as adopted by IAU
# Commission 20 in 1985 (Bowell et al. 1989, Asteroids II, p. 524) and used by JPL Horizons
# and the MPC for the "V" of an asteroid.
_A1, _B1 = 3.33, 0.63
_A2, _B2 = 1.87, 1.22


def hg_apparent_magnitude(H, G, helio_range_au, topo_range_au, phase_angle_deg) -> np.ndarray:
    """V magnitude from absolute magnitude H, slope G, distances (AU) and phase angle (deg).

    ``V = H + 5 log10(r Δ) − 2.5 log10[(1 − G) Φ1(α) + G Φ2(α)]`` with
    ``Φi = exp(−Ai tan(α/2)^Bi)``. NaN H gives NaN V.
    """
    tan_half = np.tan(0.5 * np.deg2rad(np.asarray(phase_angle_deg, dtype=np.float64)))
    phi1 = np.exp(-_A1 * tan_half**_B1)
    phi2 = np.exp(-_A2 * tan_half**_B2)
    G = np.asarray(G, dtype=np.float64)
    return (
        np.asarray(H, dtype=np.float64)
        + 5.0 * np.log10(np.asarray(helio_range_au) * np.asarray(topo_range_au))
        - 2.5 * np.log10((1.0 - G) * phi1 + G * phi2)
    )
