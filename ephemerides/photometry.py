"""Apparent magnitudes of asteroids in the IAU (H, G) system (Bowell et al. 1989)."""

import numpy as np

# Phase-function constants of the two-parameter H, G magnitude system, as adopted by IAU
# Commission 20 in 1985 (Bowell et al. 1989, Asteroids II, p. 524) and used by JPL Horizons
# and the MPC for the "V" of an asteroid.
_A1, _B1 = 3.33, 0.63
_A2, _B2 = 1.87, 1.22
# Magnitude in an LSST band minus V: the mean colours of S and C asteroids (approximately those
# adopted by Vereš & Chesley 2017, AJ 154, 12, and Sorcha's defaults).
BAND_MINUS_V = {"u": 1.40, "g": 0.28, "r": -0.18, "i": -0.31, "z": -0.32, "y": -0.32}
# AB magnitude of a 1 nJy source: m = 31.4 − 2.5 log10(F / nJy).
AB_ZERO_POINT_NJY = 31.4


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


def flux_njy(mag):
    """AB magnitude to flux density in nJy."""
    return 10.0 ** ((AB_ZERO_POINT_NJY - np.asarray(mag, dtype=np.float64)) / 2.5)


def ab_magnitude(flux_njy) -> np.ndarray:
    """Flux density in nJy to AB magnitude; NaN where the flux is not positive."""
    flux = np.asarray(flux_njy, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(flux > 0, AB_ZERO_POINT_NJY - 2.5 * np.log10(flux), np.nan)
