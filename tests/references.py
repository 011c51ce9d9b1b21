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


def trail_mosaic(rng, lengths, angles, snrs, sigma, render=None, stamp=41, offset=0.5):
    """One trail per ``stamp``-pixel square of a mosaic, centred within 0.5 px of the square's
    centre, its flux set for the given matched-filter SNR at unit variance, unit Gaussian noise
    added; ``render(shape, x0, y0, length, angle_deg, flux)`` draws it (default
    :func:`trail_reference`). Returns the mosaic, the truth (x, y, length, angle, flux) per
    trail and start positions ``offset`` px from the truth in random directions."""
    import math

    import numpy as np

    from sso.trails import render_trails

    if render is None:
        def render(shape, x0, y0, length, angle, flux):
            return trail_reference(shape, x0, y0, length, angle, flux, sigma)

    n = len(lengths)
    side = math.ceil(math.sqrt(n))
    half = 0.5 * (stamp - 1)
    x = (np.arange(n) % side) * stamp + half + rng.uniform(-0.5, 0.5, n)
    y = (np.arange(n) // side) * stamp + half + rng.uniform(-0.5, 0.5, n)
    unit = np.array([math.sqrt((render_trails((stamp, stamp), half, half, length, angle, 1.0,
                                              sigma) ** 2).sum())
                     for length, angle in zip(lengths, angles, strict=True)])
    flux = np.asarray(snrs) / unit
    image = np.zeros((side * stamp, side * stamp))
    for k in range(n):
        j0, i0 = (k // side) * stamp, (k % side) * stamp
        image[j0:j0 + stamp, i0:i0 + stamp] = render((stamp, stamp), x[k] - i0, y[k] - j0,
                                                     lengths[k], angles[k], flux[k])
    image += rng.normal(0.0, 1.0, image.shape)
    direction = rng.uniform(0.0, 2.0 * math.pi, n)
    truth = np.column_stack([x, y, lengths, angles, flux])
    return image, truth, x + offset * np.cos(direction), y + offset * np.sin(direction)


def trail_fisher(params, variance, sigma, stamp=41):
    """Fisher matrix of (x0, y0, length, angle [rad], flux) of a trail in a ``stamp``-pixel
    square of constant ``variance``, from central differences of :func:`trail_reference`."""
    import math

    import numpy as np

    steps = np.array([1e-4, 1e-4, 1e-4, 1e-5, 1e-4 * params[4]])
    columns = []
    for k in range(5):
        up, down = np.array(params, float), np.array(params, float)
        up[k] += steps[k]
        down[k] -= steps[k]
        columns.append(((trail_reference((stamp, stamp), *up[:3], math.degrees(up[3]), up[4],
                                         sigma)
                         - trail_reference((stamp, stamp), *down[:3], math.degrees(down[3]),
                                           down[4], sigma)) / (2.0 * steps[k])).ravel())
    jac = np.array(columns)
    return jac @ jac.T / variance
