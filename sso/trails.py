"""Trailed sources on difference images: measurement and rendering of Vereš et al.'s model.

:func:`measure_trails` fits, for each source position, a Gaussian PSF of known σ moved
uniformly along a segment (Vereš et al. 2012, PASP 124, 1197): centre, length, angle and flux,
with errors from the fit's covariance (the inverse of JᵀWJ with the image's variance). Each
fit starts from adaptive Gaussian-weighted second moments (a segment of length L adds L²/12 to
the variance along it) and is a Levenberg–Marquardt fit with analytic derivatives in a Numba
kernel (:mod:`sso._trail_kernels`) on the pixels within 5σ of the segment — the cutout sized
from the moments, and redrawn once around the solution when the fit moved out of it. The model
is even in the length (a trail has no head: angles are given in [0, 180°)); a point source
gives a length consistent with zero: ``trail_delta_chi2``, the fit's gain over a point source
fitted to the same pixels, follows χ² with 2 degrees of freedom for a point source (its length
error from the curvature is meaningless there: the model depends on L² near L = 0).

Pixel conventions: ``image[j, i]`` is the pixel centred at x = i, y = j (0-based, as astropy's
``WCS.pixel_to_world``); the model is sampled at pixel centres. Angles in pixel space run from
+x towards +y. With a ``wcs`` the results also come in Rubin's DiaSource names: ``trailRa``,
``trailDec`` (deg) and their errors (deg), ``trailLength`` (arcsec), ``trailAngle`` (deg, North
through East, in [0, 180)), ``trailFlux`` (image units), ``trailChi2``, ``trailNdata``.

:func:`render_trails` draws the same model (tests, benchmarks, the simulator's cutouts).
"""

import math

import numpy as np
import pandas as pd

from ephemerides.errors import InputError
from sso import _trail_kernels as kernels

FLAG_BITS = {"flag_edge": kernels.EDGE, "flag_off_image": kernels.OFF_IMAGE,
             "flag_masked": kernels.MASKED, "flag_no_converge": kernels.NO_CONVERGE,
             "flag_suspect_long": kernels.SUSPECT_LONG}
"""Flags of :func:`measure_trails`: the fit's pixels reach the image's edge; the source lies
off the image; masked pixels within 2σ of the segment; the fit did not converge (or its flux is
not positive, or it ended away from its start or twice as long as the moments said: on a
neighbour, or noise); the trail may be longer than
``max_length_px`` (its pixels did not fit)."""

PIXEL_COLUMNS = ("x_px", "y_px", "length_px", "angle_deg", "flux")
# χ²(2 dof) at 99.9 %: a point source's trail_delta_chi2 exceeds it once in a thousand (the
# trail's elongation, L² cos 2θ and L² sin 2θ, is what a point source lacks).
TRAILED_DELTA_CHI2 = 13.82


def _image(array, name: str) -> np.ndarray:
    values = np.asarray(array)
    if values.ndim != 2 or values.size == 0:
        raise InputError(f"{name} must be a 2-D image; got shape {values.shape}")
    if not np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype,
                                                                   np.complexfloating):
        raise InputError(f"{name} must hold real numbers; got {values.dtype}")
    return np.ascontiguousarray(values, dtype=np.float64)


def _positions(x_px, y_px) -> tuple[np.ndarray, np.ndarray]:
    x = np.atleast_1d(np.asarray(x_px, dtype=np.float64))
    y = np.atleast_1d(np.asarray(y_px, dtype=np.float64))
    if x.ndim != 1 or x.shape != y.shape:
        raise InputError(f"x_px and y_px must be 1-D and of one length; got shapes {x.shape} "
                         f"and {y.shape}")
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        raise InputError(f"source {int(np.flatnonzero(bad)[0])}: x_px and y_px must be finite")
    return np.ascontiguousarray(x), np.ascontiguousarray(y)


def _psf_sigma(psf_sigma_px) -> float:
    try:
        sigma = float(psf_sigma_px)
    except (TypeError, ValueError):
        sigma = math.nan
    if not (0.3 <= sigma <= 50.0):
        raise InputError(f"psf_sigma_px must be a number of pixels in [0.3, 50]; got "
                         f"{psf_sigma_px!r}")
    return sigma


def measure_trails(image, variance, psf_sigma_px, x_px, y_px, *, wcs=None, mask=None,
                   max_length_px: float = 60.0) -> pd.DataFrame:
    """Fit the trailed-source model at each position (module docstring).

    Parameters
    ----------
    image : array_like (ny, nx)
        Difference image (background-subtracted); NaN pixels are ignored.
    variance : array_like (ny, nx)
        Its per-pixel variance; pixels with variance ≤ 0 or NaN are ignored.
    psf_sigma_px : float
        σ of the Gaussian PSF, pixels (FWHM / 2.3548).
    x_px, y_px : array_like (n,)
        Approximate positions of the sources (pixels; the fit starts there).
    wcs : astropy.wcs.WCS, optional
        Celestial WCS of the image: adds Rubin's ``trail*`` columns.
    mask : array_like of bool (ny, nx), optional
        True for pixels not to use (bad, saturated, other sources).
    max_length_px : float
        Longest trail measured (pixels): bounds the cutout; longer trails are flagged
        ``flag_suspect_long``.

    Returns
    -------
    pandas.DataFrame
        One row per position, in order: ``x_px, y_px, length_px, angle_deg, flux`` and each
        one's ``_err`` (1σ, from the covariance), ``chi2_dof`` (χ² per degree of freedom over
        the ``n_pixels`` fitted), ``trail_delta_chi2`` (how much better the trail fits than a
        point source on the same pixels: χ² with 2 degrees of freedom for a point source, so
        that above :data:`TRAILED_DELTA_CHI2` a source is trailed at 99.9 % confidence),
        ``n_iterations``, the flags of :data:`FLAG_BITS`, and with a
        ``wcs`` Rubin's ``trailRa, trailRaErr, trailDec, trailDecErr, trailLength,
        trailLengthErr, trailAngle, trailAngleErr, trailFlux, trailFluxErr, trailChi2,
        trailNdata``. A source off the image, or whose fit failed, has NaN values and its flag.

    Raises
    ------
    InputError
        Images of different shapes or not 2-D, positions not finite or of different lengths,
        σ or ``max_length_px`` out of range, a ``wcs`` that is not a celestial 2-D WCS.
    """
    data = _image(image, "image")
    var = _image(variance, "variance")
    if var.shape != data.shape:
        raise InputError(f"variance has shape {var.shape}; the image {data.shape}")
    bad = np.zeros(data.shape, dtype=np.bool_) if mask is None else np.asarray(mask)
    if bad.shape != data.shape or bad.dtype != np.bool_:
        raise InputError(f"mask must be a boolean image of the image's shape {data.shape}; got "
                         f"{bad.dtype} {bad.shape}")
    bad = np.ascontiguousarray(bad | ~np.isfinite(data) | ~np.isfinite(var))
    sigma = _psf_sigma(psf_sigma_px)
    if not (isinstance(max_length_px, int | float) and 0.0 < max_length_px <= 1000.0):
        raise InputError(f"max_length_px must be in (0, 1000] pixels; got {max_length_px!r}")
    if wcs is not None and not (getattr(wcs, "has_celestial", False)
                                and getattr(wcs, "pixel_n_dim", 0) == 2):
        raise InputError("wcs must be a 2-D celestial astropy WCS")
    x, y = _positions(x_px, y_px)
    return _table(*fit_arrays(np.where(bad, 0.0, data), np.where(bad, 0.0, var), bad, sigma,
                              x, y, max_length_px), wcs)


def fit_arrays(image, variance, mask, sigma, x, y, max_length_px):
    """The fit kernel's outputs for checked inputs (contiguous float64 images with masked
    pixels at 0, a boolean mask, positions): parameters (n, 5; θ in radians), covariances,
    χ² of the trail and of the point source, pixels, flag words and iterations."""
    n = x.size
    reach = kernels.FIT_SIGMAS * sigma + 2.0
    max_pixels = int((max_length_px + 2.0 * reach + 2.0) * (2.0 * reach + 2.0)
                     + 4.0 * reach * reach) + 64
    params = np.empty((n, kernels.N_PARAMS))
    covariance = np.empty((n, kernels.N_PARAMS, kernels.N_PARAMS))
    chi2, point_chi2 = np.empty(n), np.empty(n)
    npix, flags, iterations = (np.empty(n, dtype=np.int64) for _ in range(3))
    kernels.fit_trails(np.ascontiguousarray(image), np.ascontiguousarray(variance),
                       np.ascontiguousarray(mask), sigma, x, y, 0.5 * max_length_px,
                       max_pixels, params, covariance, chi2, point_chi2, npix, flags,
                       iterations)
    return params, covariance, chi2, point_chi2, npix, flags, iterations


def _table(params, covariance, chi2, point_chi2, npix, flags, iterations,
           wcs) -> pd.DataFrame:
    errors = np.sqrt(np.diagonal(covariance, axis1=1, axis2=2))
    angle = np.rad2deg(params[:, kernels.ANGLE])
    table = pd.DataFrame({
        "x_px": params[:, kernels.X0], "y_px": params[:, kernels.Y0],
        "length_px": params[:, kernels.LENGTH], "angle_deg": angle,
        "flux": params[:, kernels.FLUX],
        "x_px_err": errors[:, kernels.X0], "y_px_err": errors[:, kernels.Y0],
        "length_px_err": errors[:, kernels.LENGTH],
        "angle_deg_err": np.rad2deg(errors[:, kernels.ANGLE]),
        "flux_err": errors[:, kernels.FLUX],
    })
    dof = npix - kernels.N_PARAMS
    with np.errstate(invalid="ignore", divide="ignore"):
        table["chi2_dof"] = np.where(dof > 0, chi2 / dof, np.nan)
    table["trail_delta_chi2"] = np.maximum(point_chi2 - chi2, 0.0)
    table["n_pixels"] = npix
    table["n_iterations"] = iterations
    for name, bit in FLAG_BITS.items():
        table[name] = (flags & bit) != 0
    if wcs is not None:
        table = pd.concat([table, _sky_columns(table, covariance, chi2, npix, wcs)], axis=1)
    return table


def _sky_columns(table: pd.DataFrame, covariance, chi2, npix, wcs) -> pd.DataFrame:
    """Rubin's ``trail*`` columns: the centre, the ends and small offsets mapped through the
    WCS (the local Jacobian carries the errors)."""
    x, y = table["x_px"].to_numpy(), table["y_px"].to_numpy()
    theta = np.deg2rad(table["angle_deg"].to_numpy())
    half = 0.5 * table["length_px"].to_numpy()
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(theta) & np.isfinite(half)
    x, y = np.where(ok, x, 0.0), np.where(ok, y, 0.0)
    theta, half = np.where(ok, theta, 0.0), np.where(ok, half, 0.0)

    def sky(px, py):
        world = wcs.pixel_to_world_values(px, py)
        return np.asarray(world[0], np.float64), np.asarray(world[1], np.float64)

    ra, dec = sky(x, y)
    # Local Jacobian d(ra cos dec, dec)/d(x, y), degrees per pixel.
    ra_x, dec_x = sky(x + 0.5, y)
    ra_x0, dec_x0 = sky(x - 0.5, y)
    ra_y, dec_y = sky(x, y + 0.5)
    ra_y0, dec_y0 = sky(x, y - 0.5)
    cos_dec = np.cos(np.deg2rad(dec))
    jac = np.empty((len(x), 2, 2))
    jac[:, 0, 0] = ((ra_x - ra_x0 + 180.0) % 360.0 - 180.0) * cos_dec
    jac[:, 0, 1] = ((ra_y - ra_y0 + 180.0) % 360.0 - 180.0) * cos_dec
    jac[:, 1, 0] = dec_x - dec_x0
    jac[:, 1, 1] = dec_y - dec_y0
    position = covariance[:, :2, :2]
    sky_cov = jac @ position @ np.swapaxes(jac, 1, 2)
    # The trail's direction on the sky: the local Jacobian applied to (cos θ, sin θ).
    east = jac[:, 0, 0] * np.cos(theta) + jac[:, 0, 1] * np.sin(theta)
    north = jac[:, 1, 0] * np.cos(theta) + jac[:, 1, 1] * np.sin(theta)
    scale = np.hypot(east, north) * 3600.0  # arcsec per pixel along the trail
    angle = np.rad2deg(np.arctan2(east, north)) % 180.0
    nan = np.where(ok, 1.0, np.nan)
    flux = table["flux"].to_numpy()
    return pd.DataFrame({
        "trailRa": ra * nan, "trailRaErr": np.sqrt(sky_cov[:, 0, 0]) / cos_dec * nan,
        "trailDec": dec * nan, "trailDecErr": np.sqrt(sky_cov[:, 1, 1]) * nan,
        "trailLength": 2.0 * half * scale * nan,
        "trailLengthErr": table["length_px_err"].to_numpy() * scale,
        "trailAngle": angle * nan,
        "trailAngleErr": table["angle_deg_err"].to_numpy() * nan,
        "trailFlux": flux, "trailFluxErr": table["flux_err"].to_numpy(),
        "trailChi2": chi2, "trailNdata": npix,
    }, index=table.index)


def render_trails(shape, x_px, y_px, length_px, angle_deg, flux, psf_sigma_px) -> np.ndarray:
    """An image of ``shape`` (ny, nx) with the model's trails (arrays or scalars of one
    length), each drawn within 5σ of its segment."""
    ny, nx = (int(v) for v in shape)
    if ny < 1 or nx < 1:
        raise InputError(f"shape must be (ny, nx) >= 1; got {shape!r}")
    x, y = _positions(x_px, y_px)
    values = [np.broadcast_to(np.asarray(v, np.float64), x.shape)
              for v in (length_px, angle_deg, flux)]
    params = np.column_stack([x, y, values[0], np.deg2rad(values[1]), values[2]])
    if not np.isfinite(params).all():
        raise InputError("trail lengths, angles and fluxes must be finite")
    out = np.zeros((ny, nx))
    kernels.render(ny, nx, np.ascontiguousarray(params), _psf_sigma(psf_sigma_px), out)
    return out
