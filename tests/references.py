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


def ten_objects_detections(shared_data):
    """``linking/ten_objects_lsst.csv`` as a DiaSource-style table, and its truth
    (``diaSourceId, object_id``); skips the calling test when the file is absent."""
    import numpy as np
    import pandas as pd
    import pytest

    path = shared_data / "linking" / "ten_objects_lsst.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    sim = pd.read_csv(path)
    table = pd.DataFrame({
        "diaSourceId": sim["#index"].to_numpy(np.int64),
        "midpointMjdTai": sim["FieldMJD_TAI"],
        "ra": sim["AstRA(deg)"],
        "dec": sim["AstDec(deg)"],
        "observatoryCode": sim["OBSCODE"],
    })
    truth = pd.DataFrame({"diaSourceId": table["diaSourceId"], "object_id": sim["ObjID"]})
    return table, truth


def trail_reference(shape, x0, y0, length, angle_deg, flux, sigma, points=400):
    """A trailed source as the mean of ``points`` Gaussian PSFs (σ pixels) spread evenly along
    the segment, sampled at pixel centres (``image[j, i]`` at x = i, y = j): independent of
    the closed-form (erf) model of :mod:`sso.trails`."""
    import math

    import numpy as np

    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    t = (np.arange(points) + 0.5) / points - 0.5
    theta = math.radians(angle_deg)
    image = np.zeros(shape)
    for xs, ys in zip(x0 + t * length * math.cos(theta), y0 + t * length * math.sin(theta),
                      strict=True):
        image += np.exp(-0.5 * ((xx - xs) ** 2 + (yy - ys) ** 2) / sigma**2)
    return image * flux / (points * 2.0 * math.pi * sigma**2)
