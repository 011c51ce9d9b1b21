"""Known-object ephemerides: orbit catalogues, propagation, observers and topocentric positions.

Public verbs::

    read_orbits, validate_orbits   orbit catalogues (MPCORB, Sorcha, CSV, Parquet)
    propagate                      N-body (default) or 2-body propagation of orbit tables
    propagate_2body, kepler_step   2-body (universal-variable) propagation of state arrays
    observer_states                MPC observatory positions and velocities
    ephemeris                      topocentric astrometric RA/Dec, rates, distances, magnitudes
    NightlyCache                   per-night Chebyshev cache with a HEALPix field index
"""

from ephemerides.cache import NightlyCache
from ephemerides.ephemeris import EPHEMERIS_COLUMNS, ephemeris
from ephemerides.observers import observer_states
from ephemerides.orbits import read_orbits, validate_orbits
from ephemerides.propagate import propagate
from ephemerides.provenance import __version__
from ephemerides.twobody import kepler_step, propagate_2body

__all__ = [
    "EPHEMERIS_COLUMNS",
    "NightlyCache",
    "__version__",
    "ephemeris",
    "kepler_step",
    "observer_states",
    "propagate",
    "propagate_2body",
    "read_orbits",
    "validate_orbits",
]
