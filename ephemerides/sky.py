"""Geometry on the celestial sphere shared by the cache, the simulator and association."""

import numpy as np


def unit_vectors(ra_deg, dec_deg) -> np.ndarray:
    """Unit vectors (…, 3) of directions given by RA and Dec in degrees."""
    ra, dec = np.deg2rad(ra_deg), np.deg2rad(dec_deg)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def chord_length(angle_deg) -> np.ndarray:
    """Straight-line distance between two unit vectors ``angle_deg`` apart: 2 sin(θ/2), the
    radius a unit-vector KD-tree search needs for an angular radius θ (capped at 180°)."""
    return 2.0 * np.sin(0.5 * np.deg2rad(np.minimum(angle_deg, 180.0)))
