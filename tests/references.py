"""Small numerical helpers shared by the slow reference implementations in the tests."""


def bisect_increasing(func, lo, hi):
    """Root of an increasing function by bisection to the last bit."""
    for _ in range(2000):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if func(mid) < 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def furnish_de440() -> None:
    """Load DE440 into SPICE (idempotent) for tests that use spiceypy as the reference."""
    import spiceypy

    from ephemerides.spk import default_planetary_kernel

    kernel = default_planetary_kernel()
    loaded = {spiceypy.kdata(i, "SPK")[0] for i in range(spiceypy.ktotal("SPK"))}
    if kernel not in loaded:
        spiceypy.furnsh(kernel)


def mjd_tdb_to_et(mjd_tdb):
    """SPICE ephemeris time (TDB seconds past J2000) of MJD TDB values."""
    import numpy as np

    return (np.asarray(mjd_tdb, dtype=np.float64) - 51_544.5) * 86_400.0
