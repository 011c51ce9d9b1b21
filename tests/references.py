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
