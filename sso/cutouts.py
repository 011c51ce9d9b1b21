"""Difference-image cutouts around DIASources, and the trails measured on them.

A cutout is a square of ``size`` pixels (odd) in the gnomonic projection about its DIASource's
position (``ra0``, ``dec0``), North up and East left, ``pixelScale`` arcsec per pixel: pixel
(i, j) of ``image[j, i]`` (0-based; the centre pixel c = (size - 1) / 2 at the DIASource) lies at
standard coordinates ξ = -(i - c) s (East), η = (j - c) s (North). It carries the difference
image and its variance (float32, row-major lists of size² values) and the PSF's Gaussian σ in
pixels. Table columns (:data:`CUTOUT_COLUMNS`): ``diaSourceId, ra0, dec0, pixelScale,
psfSigma, size, image, variance``; ``sso simulate --cutouts`` writes them to
``cutouts.parquet``.

:func:`measure_cutouts` fits each cutout's trail (:func:`sso.trails.measure_trails`) and gives
Rubin's DiaSource trail columns — ``trailRa, trailDec`` (deg) and their errors (deg, on the
sky, as ``raErr``), ``trailLength`` (arcsec), ``trailAngle`` (deg, North through East, in
[0, 180)) and their errors, ``trailFlux``, ``trailFluxErr`` (the image's units),
``trailChi2``, ``trailNdata`` — with ``trailDeltaChi2`` (the fit's gain over a point source: above
:data:`sso.trails.TRAILED_DELTA_CHI2` the source is trailed) and ``trailFlags`` (the fit's
flags, bits of :data:`sso.trails.FLAG_BITS`). :func:`with_measured_trails` puts them into a
DIASource table.
"""

import math

import numpy as np
import pandas as pd

from ephemerides.errors import InputError
from ephemerides.tablefiles import read_table_file
from sso import _trail_kernels as kernels
from sso.footprint import gnomonic, inverse_gnomonic
from sso.trails import fit_arrays, render_trails

CUTOUT_COLUMNS = ("diaSourceId", "ra0", "dec0", "pixelScale", "psfSigma", "size", "image",
                  "variance")
MEASURED_COLUMNS = ("trailRa", "trailRaErr", "trailDec", "trailDecErr", "trailLength",
                    "trailLengthErr", "trailAngle", "trailAngleErr", "trailFlux",
                    "trailFluxErr", "trailChi2", "trailNdata", "trailDeltaChi2", "trailFlags")
_ARCSEC_PER_RAD = 180.0 / math.pi * 3600.0


def cutout_size(length_px, psf_sigma_px, smallest: int = 21) -> np.ndarray:
    """Odd side (pixels) of a cutout holding a trail of ``length_px`` and 6σ around it."""
    side = np.ceil(np.asarray(length_px, np.float64) + 12.0 * np.asarray(psf_sigma_px)) + 1
    side = np.maximum(side, smallest).astype(np.int64)
    return side + (1 - side % 2)


def render_cutouts(rng, diasource_ids, ra0, dec0, ra_true, dec_true, east_rate, north_rate,
                   exposure_s, flux, flux_err, psf_sigma_px, pixel_scale) -> pd.DataFrame:
    """Simulated cutouts (table of :data:`CUTOUT_COLUMNS`): each source's trail — its true
    position at the exposure's midpoint moving at (``east_rate``, ``north_rate``) deg/day
    during ``exposure_s`` (0: a point source) — of ``flux`` (the PSF flux's units), in
    background-limited Gaussian noise whose variance makes a point source's PSF-flux error
    ``flux_err`` (σ_F² = 4π σ_psf² v), drawn from ``rng``."""
    n = len(diasource_ids)
    ra0, dec0 = np.asarray(ra0, np.float64), np.asarray(dec0, np.float64)
    xi, eta, _ = gnomonic(ra_true, dec_true, ra0, dec0)
    scale_rad = pixel_scale / _ARCSEC_PER_RAD
    motion = np.hypot(east_rate, north_rate) * exposure_s / 86400.0 * 3600.0  # arcsec
    length_px = motion / pixel_scale
    angle_deg = np.rad2deg(np.arctan2(north_rate, -np.asarray(east_rate))) % 360.0
    sigma = np.broadcast_to(np.asarray(psf_sigma_px, np.float64), (n,))
    sizes = cutout_size(length_px, sigma)
    images, variances = [], []
    for k in range(n):
        size = int(sizes[k])
        centre = 0.5 * (size - 1)
        pixel_variance = float(flux_err[k]) ** 2 / (4.0 * math.pi * sigma[k] ** 2)
        image = render_trails((size, size), centre - xi[k] / scale_rad,
                              centre + eta[k] / scale_rad, length_px[k], angle_deg[k],
                              flux[k], sigma[k])
        image += rng.normal(0.0, math.sqrt(pixel_variance), image.shape)
        images.append(image.astype(np.float32).ravel())
        variances.append(np.full(size * size, pixel_variance, dtype=np.float32))
    return pd.DataFrame({
        "diaSourceId": np.asarray(diasource_ids, np.int64), "ra0": ra0, "dec0": dec0,
        "pixelScale": np.full(n, float(pixel_scale)), "psfSigma": sigma.astype(np.float64),
        "size": sizes, "image": images, "variance": variances}, columns=list(CUTOUT_COLUMNS))


def check_cutouts(cutouts: pd.DataFrame, source: str = "cutouts") -> pd.DataFrame:
    """The table checked: its columns, one cutout per ``diaSourceId``, odd sizes ≥ 5, image
    and variance lists of size² finite values (variance ≥ 0), positive scale and σ. Raises
    InputError naming ``source``, the row and what is allowed."""
    if not isinstance(cutouts, pd.DataFrame):
        raise InputError(f"{source}: a cutout table (DataFrame) is needed")
    missing = [c for c in CUTOUT_COLUMNS if c not in cutouts.columns]
    if missing:
        raise InputError(f"{source} lacks the column(s) {missing}; a cutout table has "
                         f"{list(CUTOUT_COLUMNS)}")
    ids = cutouts["diaSourceId"]
    if ids.duplicated().any():
        raise InputError(f"{source}: diaSourceId {int(ids[ids.duplicated()].iat[0])} has "
                         "more than one cutout")
    for k, row in enumerate(cutouts[list(CUTOUT_COLUMNS)].itertuples(index=False)):
        where = f"{source}, row {k} (diaSourceId {row.diaSourceId})"
        size = row.size
        if not (isinstance(size, int | np.integer) and size >= 5 and size % 2 == 1):
            raise InputError(f"{where}: size must be an odd number of pixels >= 5; got {size!r}")
        if not (np.isfinite(row.pixelScale) and row.pixelScale > 0 and np.isfinite(row.psfSigma)
                and row.psfSigma > 0):
            raise InputError(f"{where}: pixelScale (arcsec) and psfSigma (pixels) must be > 0")
        if not (np.isfinite(row.ra0) and np.isfinite(row.dec0) and -90 <= row.dec0 <= 90):
            raise InputError(f"{where}: ra0, dec0 must be a sky position (deg)")
        for name in ("image", "variance"):
            values = np.asarray(getattr(row, name), dtype=np.float64)
            if values.shape != (size * size,):
                raise InputError(f"{where}: {name} must hold size² = {size * size} values; got "
                                 f"{values.size}")
            if not np.isfinite(values).all() or (name == "variance" and (values < 0).any()):
                raise InputError(f"{where}: {name} values must be finite"
                                 + (" and >= 0" if name == "variance" else ""))
    return cutouts


def measure_cutouts(cutouts: pd.DataFrame, source: str = "cutouts") -> pd.DataFrame:
    """The trail of each cutout (module docstring): ``diaSourceId`` and
    :data:`MEASURED_COLUMNS`, one row per cutout, in its order."""
    return _measure(check_cutouts(cutouts, source))


def _measure(cutouts: pd.DataFrame) -> pd.DataFrame:
    """:func:`measure_cutouts` of a checked table."""
    if len(cutouts) == 0:
        return pd.DataFrame({"diaSourceId": np.empty(0, np.int64),
                             **{c: np.empty(0) for c in MEASURED_COLUMNS}})
    fits = []
    for row in cutouts[list(CUTOUT_COLUMNS)].itertuples(index=False):
        size = int(row.size)
        centre = np.array([0.5 * (size - 1)])
        fits.append(fit_arrays(np.asarray(row.image, np.float64).reshape(size, size),
                               np.asarray(row.variance, np.float64).reshape(size, size),
                               np.zeros((size, size), dtype=np.bool_), float(row.psfSigma),
                               centre, centre, float(size)))
    params, covariance, chi2, point_chi2, npix, flags, _ = (np.concatenate(parts)
                                                            for parts in zip(*fits, strict=True))
    sizes = cutouts["size"].to_numpy(np.float64)
    scale = cutouts["pixelScale"].to_numpy(np.float64)
    centre = 0.5 * (sizes - 1.0)
    errors = np.sqrt(np.diagonal(covariance, axis1=1, axis2=2))
    xi = -(params[:, kernels.X0] - centre) * scale / _ARCSEC_PER_RAD
    eta = (params[:, kernels.Y0] - centre) * scale / _ARCSEC_PER_RAD
    ra, dec = inverse_gnomonic(xi, eta, cutouts["ra0"].to_numpy(np.float64),
                               cutouts["dec0"].to_numpy(np.float64))
    theta = params[:, kernels.ANGLE]
    position_angle = np.rad2deg(np.arctan2(-np.cos(theta), np.sin(theta))) % 180.0
    return pd.DataFrame({
        "diaSourceId": cutouts["diaSourceId"].to_numpy(np.int64),
        "trailRa": ra, "trailRaErr": errors[:, kernels.X0] * scale / 3600.0,
        "trailDec": dec, "trailDecErr": errors[:, kernels.Y0] * scale / 3600.0,
        "trailLength": params[:, kernels.LENGTH] * scale,
        "trailLengthErr": errors[:, kernels.LENGTH] * scale,
        "trailAngle": position_angle, "trailAngleErr": np.rad2deg(errors[:, kernels.ANGLE]),
        "trailFlux": params[:, kernels.FLUX], "trailFluxErr": errors[:, kernels.FLUX],
        "trailChi2": chi2, "trailNdata": npix,
        "trailDeltaChi2": np.maximum(point_chi2 - chi2, 0.0), "trailFlags": flags,
    }, columns=["diaSourceId", *MEASURED_COLUMNS])


def read_cutouts(path) -> pd.DataFrame:
    """A cutout table from a Parquet file, checked (:func:`check_cutouts`, errors naming the
    file)."""
    return check_cutouts(read_table_file(path, "cutout file"), f"cutout file {path}")


def with_measured_trails(diasources: pd.DataFrame, cutouts: pd.DataFrame,
                         source: str = "cutouts") -> pd.DataFrame:
    """``diasources`` with the trails measured on their cutouts (:func:`measure_cutouts`; the
    cutouts of other DIASources, e.g. of other nights, are not measured): the
    :data:`MEASURED_COLUMNS` replace any the table had; a DIASource without a cutout gets NaN
    (and flags 0)."""
    check_cutouts(cutouts, source)
    mine = cutouts[cutouts["diaSourceId"].isin(set(diasources["diaSourceId"]))]
    measured = _measure(mine.reset_index(drop=True))
    out = diasources.drop(columns=[c for c in MEASURED_COLUMNS if c in diasources.columns])
    out = out.merge(measured, on="diaSourceId", how="left", sort=False)
    out["trailFlags"] = out["trailFlags"].fillna(0).astype(np.int64)
    out["trailNdata"] = out["trailNdata"].fillna(0).astype(np.int64)
    return out

