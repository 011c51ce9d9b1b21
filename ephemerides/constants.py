"""Physical constants and fixed frame rotations used throughout the toolkit.

Every value carries its source. Units are in the names: AU, days, km, seconds, radians.
"""

import numpy as np

# Astronomical unit, IAU 2012 Resolution B2 (exact by definition).
AU_KM = 149_597_870.7

# Speed of light in vacuum, SI definition (exact).
C_KM_PER_S = 299_792.458
SECONDS_PER_DAY = 86_400.0
C_AU_PER_DAY = C_KM_PER_S * SECONDS_PER_DAY / AU_KM

# Heliocentric gravitational constant GM_sun of the JPL DE440 planetary ephemeris
# (Park et al. 2021, AJ 161:105, table of constants: 132712440041.279419 km^3/s^2),
# the value Horizons uses for heliocentric conics.
GM_SUN_KM3_PER_S2 = 132_712_440_041.279419
GM_SUN_AU3_PER_DAY2 = GM_SUN_KM3_PER_S2 * SECONDS_PER_DAY**2 / AU_KM**3

# Obliquity of the ecliptic at J2000.0, IAU 1976 value 84381.448 arcsec, which JPL Horizons and
# the MPC use to define the "ecliptic and mean equinox of J2000" frame.
OBLIQUITY_J2000_RAD = np.deg2rad(84_381.448 / 3600.0)

_c, _s = np.cos(OBLIQUITY_J2000_RAD), np.sin(OBLIQUITY_J2000_RAD)
# Rotation taking ecliptic J2000 vectors to the equatorial (ICRF) frame: v_eq = R @ v_ecl.
ECLIPTIC_TO_EQUATORIAL = np.array([[1.0, 0.0, 0.0], [0.0, _c, -_s], [0.0, _s, _c]])
EQUATORIAL_TO_ECLIPTIC = np.ascontiguousarray(ECLIPTIC_TO_EQUATORIAL.T)

# Earth's equatorial radius used with the MPC's parallax constants (rho cos phi', rho sin phi'
# in Earth radii): WGS84 / IERS 2010 value, km.
EARTH_EQUATORIAL_RADIUS_KM = 6378.137

# Modified Julian Date of the J2000.0 epoch (2000-01-01 12:00 TT), days.
MJD_J2000 = 51_544.5

# Gravitational parameter of the whole Solar System that Sorcha uses for barycentric orbital
# elements (formats BKEP and BCOM): sorcha/ephemeris/simulation_setup.py, create_assist_ephemeris,
# sums `ephem.get_particle(i, 0).m` (GM in AU^3/day^2) over ASSIST's 27 bodies -- the Sun, Mercury,
# Venus, Earth, Moon, Mars, Jupiter, Saturn, Uranus, Neptune, Pluto and the 16 asteroids of
# sb441-n16.bsp -- and simulation_parsing.parse_orbit_row passes that sum (gm_total) to its
# universal-variable conversion for BKEP and BCOM, while KEP and COM use GM_sun. The value here is
# that sum taken from the DE440 constants (de440.bsp comment block, AU^3/day^2): GMS + GM1 + GM2 +
# GMB (Earth + Moon) + GM4 + ... + GM9 + MA0001, MA0002, MA0003, MA0004, MA0007, MA0010, MA0015,
# MA0016, MA0031, MA0052, MA0065, MA0087, MA0088, MA0107, MA0511, MA0704.
GM_SOLAR_SYSTEM_AU3_PER_DAY2 = 2.9630927487993194e-04
