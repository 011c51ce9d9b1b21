"""Survey simulator: DIASources of a population seen through a cadence, with their ground truth.

For every visit, every object predicted inside the footprint becomes a detection with realistic
noise, plus false detections spread uniformly over the footprint. Models (all per visit):

- Positions: ``ephemerides.ephemeris(..., time_scale="tai", method=...)`` at the exposure
  midpoint, astrometric ICRF, light-time corrected.
- Magnitude in the visit's band: ``m = V + BAND_MINUS_V[band]`` with ``V`` the H, G magnitude of
  the ephemeris and the mean asteroid colours of :data:`ephemerides.photometry.BAND_MINUS_V`.
- Signal to noise: ``SNR = 5 · 10^(−0.4 (m − m5))`` with ``m5`` the visit's ``fiveSigmaDepth``
  (background-limited: the flux error ``F(m5) / 5`` is the same for every source of a visit).
  ``psfFlux`` in nJy, ``flux_nJy = 10^((31.4 − m) / 2.5)`` (AB), scattered by a Gaussian of
  ``psfFluxErr``.
- Detection probability: ``1 / (1 + exp((m − m5) / w))`` with ``w = FADING_WIDTH_MAG = 0.1``
  (the fading function of Chesley & Vereš 2017 used by Sorcha, fill factor 1); sources fainter
  than ``m5 + 1`` are never detected.
- Astrometric error per axis: ``σ = sqrt((FWHM_geom / (2.35 · SNR))² + (10 mas)²)`` (centroid
  precision of a Gaussian PSF, King 1983, plus a systematic floor), applied as Gaussian
  offsets in the tangent plane; ``raErr = decErr = σ``.
- Trails: ``trailLength`` = on-sky rate × exposure time (arcsec); ``trailAngle`` = position
  angle of the motion, from North through East (deg, in [0, 360)).
- False detections: a Poisson number with mean ``noise_per_deg2 × footprint area``, uniform on
  the footprint, with a Gaussian-tail SNR above 5 (``SNR = sqrt(25 + 2 E)``, E exponential:
  the tail of a unit Gaussian beyond 5σ to better than 1 %); no trail (length 0, angle NaN).
- Cutouts (optional, :mod:`sso.cutouts`): a difference-image stamp around every detection,
  North up, ``pixel_scale_arcsec`` per pixel, Gaussian PSF of σ = ``seeingFwhmGeom`` / 2.3548:
  a real detection's trail from its true position and motion during the exposure with its
  noiseless flux (nJy), a false one as a point source of its ``psfFlux``; background-limited
  noise whose variance gives a point source the visit's ``psfFluxErr``.

Every visit draws from its own generator, ``numpy.random.default_rng([seed, visit])``, so the
result does not depend on the order or grouping of the visits; its cutouts from
``default_rng([seed, visit, 1])``, so that the DIASources are the same with or without them.

Efficiency: for each night all objects are predicted once, at the night's median time; only
those within ``footprint radius + rate × |Δt| × 1.2 + 0.1 deg`` of a visit's boresight are then
predicted exactly at that visit's midpoint (``ephemeris(..., pairs=True)``).
"""

import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from ephemerides import ephemeris
from ephemerides.errors import InputError
from ephemerides.photometry import BAND_MINUS_V, flux_njy
from ephemerides.progress import Progress, stage
from ephemerides.sky import chord_length, unit_vectors
from sso.cadence import check_seed, night_of, validate_visits, visit_midpoints
from sso.cutouts import render_cutouts
from sso.footprint import Footprint, inverse_gnomonic, make_footprint

logger = logging.getLogger(__name__)

DIASOURCE_COLUMNS = (
    "diaSourceId", "visit", "detector", "midpointMjdTai", "ra", "dec", "raErr", "decErr",
    "psfFlux", "psfFluxErr", "band", "trailLength", "trailAngle",
)
TRUTH_COLUMNS = ("diaSourceId", "object_id", "ra_true_deg", "dec_true_deg", "mag_true")
FADING_WIDTH_MAG = 0.1
PIXEL_SCALE_ARCSEC = 0.2
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))
ASTROMETRIC_FLOOR_MAS = 10.0
_FAINTEST_BEYOND_M5 = 1.0
_SOURCE_BITS = 20  # diaSourceId = visit << 20 | index within the visit
_MARGIN_FACTOR = 1.2
_MARGIN_DEG = 0.1


@dataclass(frozen=True)
class SimulationResult:
    """Output of :func:`simulate`.

    Attributes
    ----------
    diasources : pandas.DataFrame
        One row per detection, columns :data:`DIASOURCE_COLUMNS` (Rubin's DiaSource names:
        deg, nJy, arcsec), sorted by ``diaSourceId``.
    truth : pandas.DataFrame
        One row per detection, same order, columns :data:`TRUTH_COLUMNS`: the ``object_id``
        that caused it (None for a false detection), its noiseless position (deg) and magnitude
        in the band (NaN for false detections).
    visits : pandas.DataFrame
        The visit table simulated (schema of :mod:`sso.cadence`).
    cutouts : pandas.DataFrame or None
        With ``cutouts=True``, one difference-image cutout per detection, in the same order
        (table of :data:`sso.cutouts.CUTOUT_COLUMNS`).
    """

    diasources: pd.DataFrame
    truth: pd.DataFrame
    visits: pd.DataFrame
    cutouts: pd.DataFrame | None = None




def _candidates(reference, visits, midpoints, radius_deg):
    """(object row, visit row) pairs close enough to each visit's boresight to be seen."""
    ok = np.isfinite(reference["ra_deg"].to_numpy())
    rows = np.flatnonzero(ok)
    ref = reference.iloc[rows]
    rate = np.hypot(ref["ra_rate_deg_per_day"].to_numpy(), ref["dec_rate_deg_per_day"].to_numpy())
    tree = cKDTree(unit_vectors(ref["ra_deg"].to_numpy(), ref["dec_deg"].to_numpy()))
    centres = unit_vectors(visits["fieldRA"].to_numpy(), visits["fieldDec"].to_numpy())
    dt = np.abs(midpoints - reference["mjd_tai"].iloc[0])
    obj, vis = [], []
    for j in range(len(visits)):
        reach = radius_deg + _MARGIN_DEG + _MARGIN_FACTOR * rate * dt[j]
        near = tree.query_ball_point(centres[j], chord_length(reach.max()))
        near = np.asarray(near, dtype=np.int64)
        if near.size == 0:
            continue
        separation = 2.0 * np.rad2deg(np.arcsin(
            np.clip(0.5 * np.linalg.norm(tree.data[near] - centres[j], axis=1), 0.0, 1.0)))
        near = near[separation <= reach[near]]
        obj.append(rows[near])
        vis.append(np.full(near.size, j))
    if not obj:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(obj), np.concatenate(vis)


def _astrometric_sigma_deg(fwhm_arcsec, snr):
    sigma_arcsec = np.hypot(fwhm_arcsec / (2.35 * snr), ASTROMETRIC_FLOOR_MAS / 1000.0)
    return sigma_arcsec / 3600.0


def _scatter(rng, ra_deg, dec_deg, sigma_deg):
    """Gaussian offsets of ``sigma_deg`` per axis in the tangent plane of each position."""
    offsets = rng.standard_normal((ra_deg.size, 2)) * np.deg2rad(sigma_deg)[:, None]
    return inverse_gnomonic(offsets[:, 0], offsets[:, 1], ra_deg, dec_deg)


def _uniform_in_cap(rng, n, radius_deg, ra0, dec0):
    """``n`` points uniform on the spherical cap of ``radius_deg`` around ``(ra0, dec0)``."""
    cos_c = 1.0 - rng.uniform(size=n) * (1.0 - np.cos(np.deg2rad(radius_deg)))
    azimuth = rng.uniform(0.0, 2.0 * np.pi, n)
    rho = np.sqrt(1.0 - cos_c**2) / cos_c  # tan of the angular distance
    return inverse_gnomonic(rho * np.sin(azimuth), rho * np.cos(azimuth), ra0, dec0)


def _visit_sources(rng, visit, midpoint, seen, footprint, noise, noise_per_deg2, fading_width):
    """Detections of one visit: real ones from ``seen`` (an ephemeris slice) and false ones."""
    m5 = visit["fiveSigmaDepth"]
    sigma_flux = flux_njy(m5) / 5.0
    mag = seen["v_mag"].to_numpy() + BAND_MINUS_V[visit["filter"]]
    if noise:
        probability = 1.0 / (1.0 + np.exp(np.clip((mag - m5) / fading_width, -50, 50)))
        detected = rng.uniform(size=mag.size) < probability
    else:
        detected = mag <= m5
    seen, mag = seen[detected], mag[detected]
    ra_true, dec_true = seen["ra_deg"].to_numpy(), seen["dec_deg"].to_numpy()
    snr = 5.0 * 10.0 ** (-0.4 * (mag - m5))
    sigma = _astrometric_sigma_deg(visit["seeingFwhmGeom"], snr)
    flux = flux_njy(mag)
    if noise:
        ra, dec = _scatter(rng, ra_true, dec_true, sigma)
        flux = flux + sigma_flux * rng.standard_normal(flux.size)
    else:
        ra, dec = ra_true, dec_true
    ra_rate = seen["ra_rate_deg_per_day"].to_numpy()
    dec_rate = seen["dec_rate_deg_per_day"].to_numpy()
    exposure_days = visit["visitExposureTime"] / 86400.0
    real = {
        "flux_true": flux_njy(mag), "east_rate": ra_rate, "north_rate": dec_rate,
        "detector": seen["detector"].to_numpy(),
        "ra": ra, "dec": dec, "err": sigma, "psfFlux": flux,
        "trailLength": np.hypot(ra_rate, dec_rate) * exposure_days * 3600.0,
        "trailAngle": np.rad2deg(np.arctan2(ra_rate, dec_rate)) % 360.0,
        "object_id": seen["object_id"].to_numpy(dtype=object),
        "ra_true_deg": ra_true, "dec_true_deg": dec_true, "mag_true": mag,
        "ra_source": ra_true, "dec_source": dec_true,
    }

    cap_area = 2.0 * np.pi * (1.0 - np.cos(np.deg2rad(footprint.radius_deg))) * (180 / np.pi) ** 2
    n_false = rng.poisson(noise_per_deg2 * cap_area) if noise_per_deg2 > 0 else 0
    ra_f, dec_f = _uniform_in_cap(rng, n_false, footprint.radius_deg, visit["fieldRA"],
                                  visit["fieldDec"])
    snr_f = np.sqrt(25.0 + 2.0 * rng.exponential(size=n_false))
    detector_f = footprint.detector_of(ra_f, dec_f, visit)
    inside = detector_f >= 0
    snr_f, ra_f, dec_f = snr_f[inside], ra_f[inside], dec_f[inside]
    n_in = int(inside.sum())
    false = {
        "flux_true": snr_f * sigma_flux, "east_rate": np.zeros(n_in),
        "north_rate": np.zeros(n_in),
        "detector": detector_f[inside], "ra": ra_f, "dec": dec_f,
        "err": _astrometric_sigma_deg(visit["seeingFwhmGeom"], snr_f),
        "psfFlux": snr_f * sigma_flux,
        "trailLength": np.zeros(n_in), "trailAngle": np.full(n_in, np.nan),
        "object_id": np.full(n_in, None, dtype=object),
        "ra_true_deg": np.full(n_in, np.nan), "dec_true_deg": np.full(n_in, np.nan),
        "mag_true": np.full(n_in, np.nan), "ra_source": ra_f, "dec_source": dec_f,
    }
    table = pd.DataFrame({k: np.concatenate([real[k], false[k]]) for k in real})
    n = len(table)
    if n >= 2**_SOURCE_BITS:
        raise InputError(f"visit {visit['observationId']} has {n} detections, more than the "
                         f"{2**_SOURCE_BITS} a diaSourceId holds; lower noise_per_deg2")
    table["diaSourceId"] = (np.int64(visit["observationId"]) << _SOURCE_BITS) + np.arange(n)
    table["visit"] = np.int64(visit["observationId"])
    table["midpointMjdTai"] = midpoint
    table["raErr"] = table["err"]
    table["decErr"] = table["err"]
    table["psfFluxErr"] = sigma_flux
    table["band"] = visit["filter"]
    return table


def _check_parameters(seed, noise_per_deg2, fading_width_mag):
    check_seed(seed)
    if not (np.isfinite(noise_per_deg2) and noise_per_deg2 >= 0):
        raise InputError(f"noise_per_deg2 must be >= 0 (false detections per deg²); "
                         f"got {noise_per_deg2}")
    if not fading_width_mag > 0:
        raise InputError(f"fading_width_mag must be > 0 mag; got {fading_width_mag}")


def simulate(
    orbits: pd.DataFrame,
    visits: pd.DataFrame,
    seed: int,
    noise_per_deg2: float = 300.0,
    footprint: str | Footprint = "circle",
    detector_corners=None,
    noise: bool = True,
    fading_width_mag: float = FADING_WIDTH_MAG,
    observatory_code: str = "X05",
    method: str = "nbody",
    progress: Progress | None = None,
    cutouts: bool = False,
    pixel_scale_arcsec: float = PIXEL_SCALE_ARCSEC,
) -> SimulationResult:
    """Simulate the DIASources a survey records of a population, with their ground truth.

    Parameters
    ----------
    orbits : pandas.DataFrame
        Orbit table (:func:`ephemerides.read_orbits`, :func:`sso.population.synthetic_population`),
        one orbit per ``object_id``, with ``H`` (objects without H are never detected).
    visits : pandas.DataFrame
        Visit table (:func:`sso.cadence.read_visits`, :func:`sso.cadence.synthetic_cadence`).
    seed : int
        Seed of the noise; the same inputs and seed give identical tables.
    noise_per_deg2 : float
        Mean density of false detections per visit (per deg² of footprint); 0 for none.
    footprint : {"circle", "lsst"} or Footprint
        Circular field of radius 1.75 deg, or the LSST detectors (needs ``detector_corners``).
    detector_corners : str or Path, optional
        Detector corner CSV for ``footprint="lsst"`` (see :func:`sso.footprint.lsst_footprint`).
    noise : bool
        False: positions and fluxes exactly as predicted and a hard detection cut at ``m5``
        (false detections still follow ``noise_per_deg2``).
    fading_width_mag : float
        Width ``w`` (mag) of the logistic detection efficiency.
    observatory_code : str
        MPC code of the observatory (X05: Rubin).
    method : {"nbody", "2body"}
        Propagation of :func:`ephemerides.ephemeris`.
    progress : callable, optional
        Receives progress reports (:mod:`ephemerides.progress`): the nights simulated (stage
        ``"simulation"``), each with its number of detections. None: silent.
    cutouts : bool
        Also render a difference-image cutout around every detection (module docstring).
    pixel_scale_arcsec : float
        Pixel scale of the cutouts (Rubin: 0.2″).

    Returns
    -------
    SimulationResult
        ``diasources``, ``truth`` and ``visits`` tables (see :class:`SimulationResult`).
    """
    _check_parameters(seed, noise_per_deg2, fading_width_mag)
    if not (isinstance(pixel_scale_arcsec, int | float) and 0.0 < pixel_scale_arcsec <= 10.0):
        raise InputError(f"pixel_scale_arcsec must be in (0, 10] arcsec; got "
                         f"{pixel_scale_arcsec!r}")
    visits = validate_visits(visits)
    footprint = make_footprint(footprint, detector_corners)
    if not isinstance(orbits, pd.DataFrame) or len(orbits) == 0 or not {
            "object_id", "H"} <= set(orbits.columns):
        raise InputError("orbits must be a non-empty orbit table with object_id and H columns "
                         "(see ephemerides.read_orbits, sso.population.synthetic_population)")
    orbits = orbits.sort_values("object_id", kind="stable", ignore_index=True)
    midpoints = visit_midpoints(visits)
    nights = night_of(midpoints)
    tables, stamps = [], []
    unique_nights = np.unique(nights)
    bar = stage(progress, "simulation", unique_nights.size, "nights")
    for k, night in enumerate(unique_nights):
        rows = np.flatnonzero(nights == night)
        night_visits = visits.iloc[rows].reset_index(drop=True)
        night_mid = midpoints[rows]
        t_ref = float(np.median(night_mid))
        reference = ephemeris(orbits, [t_ref], observatory_code=observatory_code,
                              time_scale="tai", method=method)
        reference["mjd_tai"] = t_ref
        obj, vis = _candidates(reference, night_visits, night_mid, footprint.radius_deg)
        n_before = len(tables)
        if obj.size:
            # Sorted by (object, time) so that ephemeris' (object_id, mjd_tdb) order is ours.
            order = np.lexsort((night_mid[vis], obj))
            obj, vis = obj[order], vis[order]
            exact = ephemeris(orbits.iloc[obj].reset_index(drop=True), night_mid[vis],
                              observatory_code=observatory_code, time_scale="tai",
                              method=method, pairs=True)
            exact["visit_row"] = vis
            exact["detector"] = footprint.detector_of(
                exact["ra_deg"].to_numpy(), exact["dec_deg"].to_numpy(),
                {name: night_visits[name].to_numpy()[vis]
                 for name in ("fieldRA", "fieldDec", "rotSkyPos")})
            exact = exact[(exact["detector"] >= 0) & np.isfinite(exact["v_mag"].to_numpy())]
            groups = dict(list(exact.groupby("visit_row", sort=True)))
        else:
            groups = {}
        empty = reference.iloc[:0].assign(detector=np.zeros(0, dtype=np.int64))
        for j in range(len(night_visits)):
            visit = night_visits.iloc[j]
            rng = np.random.default_rng([seed, int(visit["observationId"])])
            tables.append(_visit_sources(rng, visit, night_mid[j], groups.get(j, empty),
                                         footprint, noise, noise_per_deg2, fading_width_mag))
            if cutouts:
                stamps.append(_visit_cutouts(seed, visit, tables[-1], pixel_scale_arcsec))
        n_detections = sum(len(t) for t in tables[n_before:])
        logger.info("night %d (%d/%d): %d visits, %d detections", night, k + 1,
                    unique_nights.size, len(night_visits), n_detections)
        bar.update(k + 1, f"night {int(night)}: {n_detections} detections")
    bar.close()
    result = _assemble(tables, visits)
    if not cutouts:
        return result
    stamps = pd.concat(stamps, ignore_index=True).sort_values("diaSourceId", ignore_index=True)
    return replace(result, cutouts=stamps)


def _visit_cutouts(seed, visit, table, pixel_scale) -> pd.DataFrame:
    """The cutouts of one visit's detections, from its own generator."""
    rng = np.random.default_rng([seed, int(visit["observationId"]), 1])
    return render_cutouts(
        rng, table["diaSourceId"].to_numpy(), table["ra"].to_numpy(), table["dec"].to_numpy(),
        table["ra_source"].to_numpy(), table["dec_source"].to_numpy(),
        table["east_rate"].to_numpy(), table["north_rate"].to_numpy(),
        float(visit["visitExposureTime"]), table["flux_true"].to_numpy(),
        table["psfFluxErr"].to_numpy(), visit["seeingFwhmGeom"] / FWHM_PER_SIGMA / pixel_scale,
        pixel_scale)


def _assemble(tables, visits) -> SimulationResult:
    table = pd.concat(tables, ignore_index=True).sort_values("diaSourceId", ignore_index=True)
    diasources = pd.DataFrame({
        "diaSourceId": table["diaSourceId"].astype(np.int64),
        "visit": table["visit"].astype(np.int64),
        "detector": table["detector"].astype(np.int64),
        **{name: table[name].astype(np.float64)
           for name in ("midpointMjdTai", "ra", "dec", "raErr", "decErr", "psfFlux",
                        "psfFluxErr")},
        "band": table["band"].astype(str),
        "trailLength": table["trailLength"].astype(np.float64),
        "trailAngle": table["trailAngle"].astype(np.float64),
    }, columns=list(DIASOURCE_COLUMNS))
    truth = pd.DataFrame({
        "diaSourceId": diasources["diaSourceId"],
        "object_id": table["object_id"].astype(object),
        **{name: table[name].astype(np.float64)
           for name in ("ra_true_deg", "dec_true_deg", "mag_true")},
    }, columns=list(TRUTH_COLUMNS))
    return SimulationResult(diasources, truth, visits)
