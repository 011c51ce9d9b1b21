"""Nightly association of known Solar System objects with a night's DIASources.

For every visit, the nightly cache (:class:`ephemerides.NightlyCache`) predicts the known objects
within the footprint's circumscribed radius plus the association radius of the boresight, at
each DIASource's own ``midpointMjdTai`` (TAI). Unit-vector KD-trees of the predictions and of
the visit's DIASources (chord radius :func:`ephemerides.sky.chord_length`) give every (object,
source) pair closer than the association radius; pairs whose trail or magnitude disagrees
with the prediction are dropped. The remaining pairs form a bipartite graph; on each connected
component :func:`scipy.optimize.linear_sum_assignment` chooses a one-to-one assignment with the
largest number of associations and, among those, the smallest total separation (a greedy
nearest-neighbour pass can steal an object's only source; the optimal assignment cannot).

Edges of the field: every object predicted within ``footprint radius + association radius`` is
a candidate, and every DIASource is eligible (even one in a focal-plane gap), so an object
predicted just outside the footprint but detected just inside is associated, and the reverse.
Only objects predicted *on* the footprint (a detector for the LSST focal plane, the circle
otherwise) and brighter than the magnitude limit are reported as unassociated when unmatched;
every predicted object, however faint, is a candidate for association.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import healpy as hp
import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ephemerides import NightlyCache
from ephemerides.errors import InputError
from ephemerides.photometry import BAND_MINUS_V, ab_magnitude
from ephemerides.progress import Progress, stage
from ephemerides.schemas import DIASOURCE, SSSOURCE, UNASSOCIATED
from ephemerides.sky import chord_length, unit_vectors
from linking.detections import measured_trail_tolerances
from sso.cadence import night_of, validate_visits, visit_midpoints
from sso.executors import SerialExecutor
from sso.footprint import Footprint, gnomonic, make_footprint
from sso.io import read_diasource_dataset
from sso.workunits import build_cache

SSSOURCE_COLUMNS = tuple(column.name for column in SSSOURCE.columns)
UNASSOCIATED_COLUMNS = tuple(column.name for column in UNASSOCIATED.columns)
# Largest association radius, arcsec: a degree, far beyond any astrometric or orbit error
# (larger radii only collect noise, and the caches' field queries assume small circles).
MAX_RADIUS_ARCSEC = 3600.0
VISIT_COUNT_COLUMNS = (
    "visit", "n_diasources", "n_predicted", "n_associated", "n_unassociated_objects",
)
DEFAULT_DEPTH_MARGIN_MAG = 0.5
# Visits per work unit on a process pool or Dask (:mod:`sso.executors`); a night of ~1,000 LSST
# visits makes 40 units. Visits are associated independently, so the result does not depend on
# it. A unit takes visits close on the sky — consecutive in the NESTED order of their
# boresight's HEALPix pixel at UNIT_NSIDE (a Z-order curve), in time order within a pixel — so
# that the part of the cache it carries is small: the visits of one field share it.
VISITS_PER_UNIT = 25
UNIT_NSIDE = 256
# The night of a cache built from orbits extends this far beyond the first and last time.
NIGHT_MARGIN_DAYS = 60.0 / 86400.0
_ARCSEC_PER_DEG = 3600.0


@dataclass(frozen=True)
class AssociationResult:
    """Output of :func:`associate`.

    Attributes
    ----------
    diasources : pandas.DataFrame
        The input DIASources in their input order, with ``ssObjectId`` (nullable ``Int64``)
        set on associated rows and null elsewhere.
    sssources : pandas.DataFrame
        One row per association, sorted by ``diaSourceId``, columns :data:`SSSOURCE_COLUMNS`:
        predicted position ``ephRa, ephDec`` (deg); offsets of the DIASource from the prediction
        ``ephOffset`` (angular distance), ``ephOffsetRa`` (East, includes cos Dec),
        ``ephOffsetDec`` (North), ``ephOffsetAlongTrack`` (along the predicted motion) and
        ``ephOffsetCrossTrack`` (perpendicular: the motion direction turned by +90° in the
        (East, North) plane, so towards North for an eastward mover), all arcsec, in the
        tangent plane of the prediction; ``ephRateRa`` (dRA/dt·cos Dec) and ``ephRateDec``
        (deg/day); ``ephVmag`` (V, mag); ``phaseAngle``, ``elongation`` (deg); ``helioRange``,
        ``topoRange`` (AU);
        ``diaDistanceRank``: rank of this source's distance among the object's candidate
        sources in the visit (1 = nearest).
    unassociated_ssobjects : pandas.DataFrame
        Objects predicted on the footprint and brighter than the magnitude limit that no
        DIASource of the visit was associated with, columns :data:`UNASSOCIATED_COLUMNS`
        (positions deg, rates deg/day, V mag, ``detector`` the detector they fall on),
        sorted by ``(visit, ssObjectId)``.
    visit_counts : pandas.DataFrame
        One row per visit, columns :data:`VISIT_COUNT_COLUMNS`: DIASources, objects predicted
        on the footprint and brighter than the limit, associations, and unmatched predictions.
    """

    diasources: pd.DataFrame
    sssources: pd.DataFrame
    unassociated_ssobjects: pd.DataFrame
    visit_counts: pd.DataFrame


def validate_diasources(diasources: pd.DataFrame, need_flux: bool = False) -> pd.DataFrame:
    """The DIASource table in the DiaSource schema's types (:data:`ephemerides.schemas.DIASOURCE`),
    with the ``visit`` column association needs (and ``psfFlux`` with ``need_flux``).

    Raises
    ------
    InputError
        Naming missing columns, the rows whose values are not allowed (and what is), or
        repeated ids.
    """
    return DIASOURCE.check(diasources, "DIASource table",
                           require=("visit", "psfFlux") if need_flux else ("visit",))


def check_radius_arcsec(radius_arcsec) -> float:
    """The association radius, checked: a number of arcsec in (0, MAX_RADIUS_ARCSEC]."""
    try:
        value = float(radius_arcsec)
    except (TypeError, ValueError):
        value = np.nan
    if not (0.0 < value <= MAX_RADIUS_ARCSEC):
        raise InputError(f"radius_arcsec must be in (0, {MAX_RADIUS_ARCSEC:g}] arcsec; got "
                         f"{radius_arcsec!r}")
    return value


def _object_radius_deg(cache, radius_arcsec, uncertainty_arcsec) -> np.ndarray:
    """Association radius (deg) of every cached object: ``hypot(radius, uncertainty)``."""
    n = len(cache.objects)
    radius = np.full(n, float(radius_arcsec))
    if uncertainty_arcsec is not None:
        if not isinstance(uncertainty_arcsec, Mapping | pd.Series):
            raise InputError("uncertainty_arcsec must map ssObjectId to a 1-sigma position "
                             "uncertainty in arcsec (a dict or a pandas Series)")
        extra = pd.Series(uncertainty_arcsec, dtype=np.float64)
        values = extra.reindex(cache.objects["ssObjectId"].to_numpy()).fillna(0.0).to_numpy()
        if not (np.isfinite(values).all() and (values >= 0).all()):
            raise InputError("uncertainty_arcsec values must be finite and >= 0 arcsec")
        radius = np.hypot(radius, values)
    return radius / _ARCSEC_PER_DEG


def association_night(diasources: pd.DataFrame, visits: pd.DataFrame) -> tuple[float, float]:
    """Night (MJD TAI) a cache must cover to associate these DIASources and visits.

    From the earliest to the latest DIASource time or visit midpoint, widened by
    :data:`NIGHT_MARGIN_DAYS` each side. The tables must already be validated.

    Raises
    ------
    ValueError
        When the times fall on more than one night (:func:`sso.cadence.night_of`).
    """
    times = _association_times(diasources, visits)
    nights = np.unique(night_of(times))
    if nights.size > 1:
        raise InputError(
            f"the DIASource and visit times span nights {nights.tolist()} (noon-to-noon UTC, "
            f"MJD {times.min():.5f} to {times.max():.5f} TAI); associate one night at a time"
        )
    return float(times.min()) - NIGHT_MARGIN_DAYS, float(times.max()) + NIGHT_MARGIN_DAYS


def _association_times(diasources, visits) -> np.ndarray:
    return np.concatenate([diasources["midpointMjdTai"].to_numpy(np.float64),
                           visit_midpoints(visits)])


def _associate_nights(diasources, visits, nights, orbits, radius_arcsec,
                      options) -> AssociationResult:
    """Association of several nights: each night's visits and DIASources with that night's
    cache of ``orbits``, exactly as one call per night gives, then put together by
    :func:`combine_nights` (DIASources and visit counts in the input order, the other tables
    sorted as one night's are)."""
    parts, rows = [], []
    for night in np.unique(nights):
        in_night = visits[nights == night]
        mine = diasources["visit"].isin(in_night["observationId"]).to_numpy()
        parts.append(associate(diasources[mine], in_night, orbits, radius_arcsec, **options))
        rows.append(np.flatnonzero(mine))
    return combine_nights(parts, rows, visits)


def combine_nights(parts: list[AssociationResult], rows: list[np.ndarray],
                   visits: pd.DataFrame) -> AssociationResult:
    """One result from the results of several nights: ``rows[k]`` are the positions in the
    whole DIASource table of night k's DIASources; ``visits`` all the nights' visits."""
    order = np.argsort(np.concatenate(rows), kind="stable")
    visit_order = pd.Index(pd.concat([p.visit_counts["visit"] for p in parts])).get_indexer(
        visits["observationId"].to_numpy(np.int64))
    return AssociationResult(
        pd.concat([p.diasources for p in parts]).iloc[order],
        pd.concat([p.sssources for p in parts]).sort_values(
            "diaSourceId", kind="stable", ignore_index=True),
        pd.concat([p.unassociated_ssobjects for p in parts]).sort_values(
            ["visit", "ssObjectId"], kind="stable", ignore_index=True),
        pd.concat([p.visit_counts for p in parts]).iloc[visit_order].reset_index(drop=True))


def _cache_for(cache_or_orbits, diasources, visits, observatory_code,
               executor=None) -> NightlyCache:
    if isinstance(cache_or_orbits, NightlyCache):
        cache = cache_or_orbits
        if cache.params["observatory_code"] != str(observatory_code):
            raise InputError(f"the cache was built for observatory "
                             f"{cache.params['observatory_code']!r}, not {observatory_code!r}; "
                             "build one for this observatory")
        times_tai = _association_times(diasources, visits)
        start, end = cache.params["night_start_mjd_tai"], cache.params["night_end_mjd_tai"]
        outside = (times_tai < start - 1e-8) | (times_tai > end + 1e-8)
        if outside.any():
            raise InputError(
                f"{int(outside.sum())} DIASource/visit time(s) lie outside the cached night "
                f"{start!r} to {end!r} (MJD TAI), e.g. {times_tai[outside][0]!r}; build or "
                "load the cache of that night"
            )
        return cache
    if isinstance(cache_or_orbits, pd.DataFrame):
        start, end = association_night(diasources, visits)
        return build_cache(cache_or_orbits, start, end, observatory_code, executor)
    raise InputError("cache_or_orbits must be an ephemerides.NightlyCache or an orbit table "
                     f"(pandas DataFrame); got {type(cache_or_orbits).__name__}")


def optimal_assignment(pair_object, pair_source, cost):
    """One-to-one assignment of a bipartite candidate graph: most pairs, then least total cost.

    Parameters
    ----------
    pair_object, pair_source : ndarray of int
        Candidate pairs as (object index, source index); indices need not be contiguous.
    cost : ndarray of float
        Cost of each pair (e.g. separation, arcsec), finite and >= 0.

    Returns
    -------
    ndarray of int
        Indices into the pair arrays of the chosen pairs, sorted. Each connected component of
        the graph is solved with :func:`scipy.optimize.linear_sum_assignment` on its dense cost
        matrix, absent edges costing more than every present one together, so that the number
        of pairs is maximised first and their total cost second.
    """
    pair_object = np.asarray(pair_object, dtype=np.int64)
    pair_source = np.asarray(pair_source, dtype=np.int64)
    cost = np.asarray(cost, dtype=np.float64)
    if pair_object.size == 0:
        return np.zeros(0, dtype=np.int64)
    objects, obj = np.unique(pair_object, return_inverse=True)
    sources, src = np.unique(pair_source, return_inverse=True)
    n_obj = objects.size
    graph = coo_matrix((np.ones(obj.size), (obj, n_obj + src)),
                       shape=(n_obj + sources.size,) * 2)
    _, labels = connected_components(graph, directed=False)
    component = labels[obj]
    degree_obj = np.bincount(obj, minlength=n_obj)
    degree_src = np.bincount(src, minlength=sources.size)
    isolated = (degree_obj[obj] == 1) & (degree_src[src] == 1)
    chosen = [np.flatnonzero(isolated)]
    rest = np.flatnonzero(~isolated)
    order = rest[np.argsort(component[rest], kind="stable")]
    bounds = np.flatnonzero(np.diff(component[order])) + 1
    for edges in np.split(order, bounds) if order.size else []:
        rows, r = np.unique(obj[edges], return_inverse=True)
        cols, c = np.unique(src[edges], return_inverse=True)
        absent = cost[edges].sum() + 1.0
        matrix = np.full((rows.size, cols.size), absent)
        matrix[r, c] = cost[edges]
        lookup = np.full((rows.size, cols.size), -1, dtype=np.int64)
        lookup[r, c] = edges
        row_pick, col_pick = linear_sum_assignment(matrix)
        picked = lookup[row_pick, col_pick]
        chosen.append(picked[picked >= 0])
    return np.sort(np.concatenate(chosen))


def _angle_deg(a, b) -> np.ndarray:
    """Angle (deg) between unit vectors along the last axis, accurate for tiny angles."""
    return np.rad2deg(2.0 * np.arcsin(np.clip(0.5 * np.linalg.norm(a - b, axis=-1), 0.0, 1.0)))


def candidate_pairs(pred_ra_deg, pred_dec_deg, radius_deg, source_xyz):
    """Every (prediction, source) pair closer than the prediction's radius.

    Parameters
    ----------
    pred_ra_deg, pred_dec_deg : ndarray
        Predicted positions (deg).
    radius_deg : ndarray
        Association radius of each prediction (deg).
    source_xyz : ndarray (n, 3)
        Unit vectors of the sources (:func:`ephemerides.sky.unit_vectors`).

    Returns
    -------
    pred_index, source_index : ndarray of int64
        The pairs, sorted by prediction then source.
    separation_arcsec : ndarray of float64
        Angular distance of each pair (arcsec).
    """
    empty = np.zeros(0, dtype=np.int64)
    if np.size(pred_ra_deg) == 0 or len(source_xyz) == 0:
        return empty, empty, np.zeros(0)
    pred_xyz = unit_vectors(pred_ra_deg, pred_dec_deg)
    found = cKDTree(pred_xyz).sparse_distance_matrix(
        cKDTree(source_xyz), float(chord_length(np.max(radius_deg))), output_type="ndarray")
    p, s = found["i"].astype(np.int64), found["j"].astype(np.int64)
    separation = _angle_deg(pred_xyz[p], source_xyz[s])
    keep = separation <= np.asarray(radius_deg)[p]
    order = np.lexsort((s[keep], p[keep]))
    return p[keep][order], s[keep][order], separation[keep][order] * _ARCSEC_PER_DEG


def _trail_agrees(pred, src_rows, sources, exposure_s, trailed_min_arcsec, length_tol_arcsec,
                  angle_tol_deg) -> np.ndarray:
    """Whether each pair's trail (if the source is trailed) matches the predicted motion: a
    measured trail (``trailLengthErr``, ``trailAngleErr``, ``trailDeltaChi2`` of
    :mod:`sso.cutouts`) is trailed when it beats a point source (``trailDeltaChi2`` above
    :data:`sso.trails.TRAILED_DELTA_CHI2`) and its fit is not flagged (``trailFlags``), and
    agrees within :data:`linking.detections.TRAIL_SIGMAS` of its errors (and the floors;
    :func:`linking.detections.measured_trail_tolerances`); any other within the fixed
    tolerances."""
    if "trailLength" not in sources or "trailAngle" not in sources:
        return np.ones(src_rows.size, dtype=bool)
    length = sources["trailLength"][src_rows]
    measured, significant, length_tol, angle_tol = measured_trail_tolerances(
        sources, src_rows, length_tol_arcsec, angle_tol_deg)
    trailed = np.where(measured, significant, np.isfinite(length) & (length > trailed_min_arcsec))
    rate_ra, rate_dec = pred["ra_rate"], pred["dec_rate"]
    predicted = np.hypot(rate_ra, rate_dec) * exposure_s / 86400.0 * _ARCSEC_PER_DEG
    angle_pred = np.rad2deg(np.arctan2(rate_ra, rate_dec))
    difference = np.abs((sources["trailAngle"][src_rows] - angle_pred + 90.0) % 180.0 - 90.0)
    good = (np.abs(length - predicted) <= length_tol) & (difference <= angle_tol)
    return ~trailed | good


def _predict(cache, visit, t, cone_deg):
    """Cache predictions around the visit's boresight at time ``t`` as arrays."""
    table = cache.query(visit["fieldRA"], visit["fieldDec"], cone_deg, t)
    return {
        "object_id": table["object_id"].to_numpy(dtype=object),
        "ssObjectId": table["ssObjectId"].to_numpy(np.int64),
        "ra": table["ra_deg"].to_numpy(), "dec": table["dec_deg"].to_numpy(),
        "ra_rate": table["ra_rate_deg_per_day"].to_numpy(),
        "dec_rate": table["dec_rate_deg_per_day"].to_numpy(),
        "v_mag": table["v_mag"].to_numpy(), "phase": table["phase_angle_deg"].to_numpy(),
        "elongation": table["elongation_deg"].to_numpy(),
        "helio": table["helio_range_au"].to_numpy(), "topo": table["topo_range_au"].to_numpy(),
    }


def _subset(pred, rows):
    return {k: v[rows] for k, v in pred.items()}


class _Settings:
    """Values the per-visit matcher needs, resolved once."""

    def __init__(self, cache, footprint, radius_arcsec, uncertainty_arcsec, magnitude_limit,
                 magnitude_window, trailed_min_arcsec, trail_length_tolerance_arcsec,
                 trail_angle_tolerance_deg):
        self.cache, self.footprint = cache, footprint
        self.radius_deg = _object_radius_deg(cache, radius_arcsec, uncertainty_arcsec)
        self.radius_of = None if uncertainty_arcsec is None else dict(
            zip(cache.objects["ssObjectId"].to_numpy(np.int64), self.radius_deg, strict=True))
        self.cone_deg = footprint.radius_deg + float(self.radius_deg.max())
        self.magnitude_limit = magnitude_limit
        self.magnitude_window = magnitude_window
        self.trailed_min_arcsec = trailed_min_arcsec
        self.length_tol = trail_length_tolerance_arcsec
        self.angle_tol = trail_angle_tolerance_deg

    def radius_for(self, ss_object_ids) -> np.ndarray:
        """Association radius (deg) of each object."""
        if self.radius_of is None:
            return np.full(len(ss_object_ids), self.radius_deg[0])
        return np.array([self.radius_of[i] for i in ss_object_ids], dtype=np.float64)

    def bright(self, v_mag, visit) -> np.ndarray:
        """Predictions that pass the magnitude limit (band magnitude vs depth, or V)."""
        if self.magnitude_limit is not None:
            return v_mag <= self.magnitude_limit
        band = v_mag + BAND_MINUS_V[visit["filter"]]
        return band <= visit["fiveSigmaDepth"] + DEFAULT_DEPTH_MARGIN_MAG


def _match_time(settings, visit, pred, sources, src_rows, xyz):
    """Candidate pairs (prediction row, source row, separation arcsec) at one time."""
    radius = settings.radius_for(pred["ssObjectId"])
    p, s, separation = candidate_pairs(pred["ra"], pred["dec"], radius, xyz[src_rows])
    s = src_rows[s]
    keep = np.ones(p.size, dtype=bool)
    if settings.trailed_min_arcsec is not None:
        trailed_min = max(1.0, 2.0 * visit["seeingFwhmGeom"]) \
            if settings.trailed_min_arcsec == "auto" else settings.trailed_min_arcsec
        keep &= _trail_agrees(_subset(pred, p), s, sources, visit["visitExposureTime"],
                              trailed_min, settings.length_tol, settings.angle_tol)
    if settings.magnitude_window is not None:
        observed = ab_magnitude(sources["psfFlux"][s])
        predicted = pred["v_mag"][p] + BAND_MINUS_V[visit["filter"]]
        keep &= np.abs(observed - predicted) <= settings.magnitude_window
    return p[keep], s[keep], separation[keep]


def _sssource_rows(pred, p, s, separation, rank, sources):
    """SSSource columns for chosen pairs (prediction rows ``p``, source rows ``s``)."""
    xi, eta, _ = gnomonic(sources["ra"][s], sources["dec"][s], pred["ra"][p], pred["dec"][p])
    east, north = np.rad2deg(xi) * _ARCSEC_PER_DEG, np.rad2deg(eta) * _ARCSEC_PER_DEG
    rate_ra, rate_dec = pred["ra_rate"][p], pred["dec_rate"][p]
    speed = np.hypot(rate_ra, rate_dec)
    with np.errstate(divide="ignore", invalid="ignore"):
        u_e, u_n = rate_ra / speed, rate_dec / speed
    return {
        "ssObjectId": pred["ssObjectId"][p], "diaSourceId": sources["diaSourceId"][s],
        "ephRa": pred["ra"][p], "ephDec": pred["dec"][p], "ephOffset": separation,
        "ephOffsetRa": east, "ephOffsetDec": north,
        "ephOffsetAlongTrack": east * u_e + north * u_n,
        "ephOffsetCrossTrack": north * u_e - east * u_n,
        "ephRateRa": rate_ra, "ephRateDec": rate_dec, "ephVmag": pred["v_mag"][p],
        "phaseAngle": pred["phase"][p], "elongation": pred["elongation"][p],
        "helioRange": pred["helio"][p], "topoRange": pred["topo"][p],
        "diaDistanceRank": rank,
    }


def _associate_visit(settings, visit, midpoint, sources, rows, xyz):
    """SSSource columns, unassociated-object columns and counts of one visit."""
    times = sources["midpointMjdTai"][rows]
    distinct = np.unique(np.concatenate([times, [midpoint]]))
    preds, pair_obj, pair_src, pair_sep, pair_pred = [], [], [], [], []
    for t in distinct:
        pred = _predict(settings.cache, visit, t, settings.cone_deg)
        at_t = rows[times == t]
        p, s, sep = _match_time(settings, visit, pred, sources, at_t, xyz)
        preds.append(pred)
        pair_obj.append(pred["ssObjectId"][p])
        pair_src.append(s)
        pair_sep.append(sep)
        pair_pred.append(np.stack([np.full(p.size, len(preds) - 1), p], axis=1))
    pair_obj, pair_src = np.concatenate(pair_obj), np.concatenate(pair_src)
    pair_sep, pair_pred = np.concatenate(pair_sep), np.concatenate(pair_pred)
    chosen = optimal_assignment(pair_obj, pair_src, pair_sep)
    # Rank of each chosen pair's separation among its object's candidate pairs (1 = nearest).
    rank = pd.Series(pair_sep).groupby(pair_obj).rank(method="min").to_numpy()
    rank = rank[chosen].astype(np.int64)
    blocks = []
    for i, pred in enumerate(preds):
        mine = pair_pred[chosen, 0] == i
        k = chosen[mine]
        blocks.append(_sssource_rows(pred, pair_pred[k, 1], pair_src[k], pair_sep[k],
                                     rank[mine], sources))
    sssources = {c: np.concatenate([b[c] for b in blocks]) for c in SSSOURCE_COLUMNS}

    reference = preds[int(np.searchsorted(distinct, midpoint))]
    detector = settings.footprint.detector_of(reference["ra"], reference["dec"], visit)
    seen = (detector >= 0) & settings.bright(reference["v_mag"], visit)
    missed = seen & ~np.isin(reference["ssObjectId"], pair_obj[chosen])
    m = np.flatnonzero(missed)
    unassociated = {
        "visit": np.full(m.size, int(visit["observationId"]), dtype=np.int64),
        "ssObjectId": reference["ssObjectId"][m], "object_id": reference["object_id"][m],
        "midpointMjdTai": np.full(m.size, midpoint),
        "ephRa": reference["ra"][m], "ephDec": reference["dec"][m],
        "ephRateRa": reference["ra_rate"][m], "ephRateDec": reference["dec_rate"][m],
        "ephVmag": reference["v_mag"][m], "detector": detector[m],
    }
    counts = (int(visit["observationId"]), rows.size, int(seen.sum()), chosen.size, m.size)
    return sssources, unassociated, counts


def associate(
    diasources: pd.DataFrame,
    visits: pd.DataFrame,
    cache_or_orbits,
    radius_arcsec: float = 1.0,
    *,
    observatory_code: str = "X05",
    magnitude_limit: float | None = None,
    magnitude_window: float | None = None,
    uncertainty_arcsec=None,
    trailed_min_arcsec: float | str | None = "auto",
    trail_length_tolerance_arcsec: float = 1.0,
    trail_angle_tolerance_deg: float = 10.0,
    footprint: str | Footprint = "circle",
    detector_corners=None,
    progress: Progress | None = None,
    executor=None,
    dataset=None,
) -> AssociationResult:
    """Associate DIASources with the known objects predicted in their visits: one night's
    with a cache, or any number of nights' with an orbit table (one cache per night).

    Parameters
    ----------
    diasources : pandas.DataFrame
        DiaSource table (:data:`sso.simulate.DIASOURCE_COLUMNS`): at least ``diaSourceId``,
        ``visit`` (the visit's ``observationId``), ``midpointMjdTai`` (MJD TAI, the time at
        which predictions are evaluated), ``ra``, ``dec`` (deg); ``trailLength`` (arcsec) and
        ``trailAngle`` (deg, North through East) enable the trail check, ``psfFlux`` (nJy) the
        magnitude window.
    visits : pandas.DataFrame
        Visit table (:mod:`sso.cadence` schema, OpSim names). Every visit is processed (with a
        cache, all must lie in the cache's night); every DIASource's visit must be in it.
    cache_or_orbits : ephemerides.NightlyCache or pandas.DataFrame
        The night's cache, or an orbit table from which the cache of each night (noon to noon
        UTC, :func:`sso.cadence.night_of`) spanned by its DIASource and visit times (plus
        :data:`NIGHT_MARGIN_DAYS` each side) is built, on ``executor``
        (:func:`sso.workunits.build_cache`). Several nights give exactly what one call per
        night gives, put together: DIASources and visit counts in the input order, SSSources
        and unassociated objects sorted as one night's are.
    radius_arcsec : float
        Association radius (arcsec).
    observatory_code : str
        MPC code of the observatory; must match a given cache's.
    magnitude_limit : float, optional
        V magnitude limit of the objects expected to be detected: an unmatched object is
        reported in ``unassociated_ssobjects`` (and counted in ``n_predicted``) only if
        brighter. Default: per visit, band magnitude (``V + BAND_MINUS_V[filter]``) at most
        ``fiveSigmaDepth + 0.5``. Every predicted object, however faint (or without H), is a
        candidate for association: detection near the limit is probabilistic, and a
        detection of a fainter object is still that object.
    magnitude_window : float, optional
        If given, a pair also needs ``|m_obs - m_pred| <= magnitude_window`` (mag), with
        ``m_obs = 31.4 - 2.5 log10(psfFlux / nJy)`` (AB) and ``m_pred`` the band magnitude.
    uncertainty_arcsec : mapping or pandas.Series, optional
        ``ssObjectId -> 1-sigma position uncertainty`` (arcsec); an object's radius becomes
        ``hypot(radius_arcsec, uncertainty)``.
    trailed_min_arcsec : float, "auto" or None
        A DIASource with ``trailLength`` above this (arcsec) is trailed; "auto" uses
        ``max(1, 2 × seeingFwhmGeom)`` of the visit; None disables the trail check. A trail
        measured with errors (``trailLengthErr``, ``trailAngleErr`` and ``trailDeltaChi2``:
        :func:`sso.cutouts.with_measured_trails`) is trailed when ``trailDeltaChi2`` exceeds
        :data:`sso.trails.TRAILED_DELTA_CHI2` and ``trailFlags`` is 0 (a flagged fit is not
        checked), and checked against ``linking.detections.TRAIL_SIGMAS`` (5) of its
        errors (with floors of 0.05″ and 0.5°) instead of the two tolerances below.
    trail_length_tolerance_arcsec : float
        Largest ``|trailLength - rate × visitExposureTime|`` (arcsec) of a trailed pair.
    trail_angle_tolerance_deg : float
        Largest difference (deg, modulo 180: a trail has no head) between ``trailAngle`` and the
        position angle of the predicted motion.
    footprint : {"circle", "lsst"} or Footprint
        Field of view (see :mod:`sso.footprint`); ``"lsst"`` needs ``detector_corners``.
    detector_corners : str or Path, optional
        Detector corner CSV for ``footprint="lsst"``.
    progress : callable, optional
        Receives progress reports (:mod:`ephemerides.progress`): the visits associated (stage
        ``"association"``; on an executor once at the end), night by night. None: silent.
    executor : optional
        Executor of :mod:`sso.executors`; a process pool or Dask associates units of
        ``VISITS_PER_UNIT`` visits close on the sky on its workers, each unit with the part of
        the cache its fields reach (:meth:`ephemerides.NightlyCache.near`). The result is the
        serial one, whatever the executor.
    dataset : str or Path, optional
        Folder of a DIASource dataset (:mod:`sso.io`) holding ``diasources``: the units
        of an executor then carry the names of their visits and read those visits' rows on the
        worker, instead of carrying the rows.

    Returns
    -------
    AssociationResult
        ``diasources`` with ``ssObjectId``, ``sssources``, ``unassociated_ssobjects`` and
        ``visit_counts`` (see :class:`AssociationResult`).

    Raises
    ------
    ValueError
        On a missing column, NaN coordinates or times, a DIASource whose visit is not in
        ``visits``, times outside a given cache's night, or an unknown observatory.
    """
    check_radius_arcsec(radius_arcsec)
    for name, value in (("magnitude_window", magnitude_window),
                        ("trail_length_tolerance_arcsec", trail_length_tolerance_arcsec),
                        ("trail_angle_tolerance_deg", trail_angle_tolerance_deg)):
        if value is not None and not value >= 0:
            raise InputError(f"{name} must be >= 0; got {value!r}")
    if not (trailed_min_arcsec is None or trailed_min_arcsec == "auto"
            or (isinstance(trailed_min_arcsec, int | float) and trailed_min_arcsec >= 0)):
        raise InputError(f"trailed_min_arcsec must be 'auto', None or >= 0 arcsec; got "
                         f"{trailed_min_arcsec!r}")
    diasources = validate_diasources(diasources, magnitude_window is not None)
    visits = validate_visits(visits)
    footprint = make_footprint(footprint, detector_corners)
    unknown = ~diasources["visit"].isin(visits["observationId"]).to_numpy()
    if unknown.any():
        raise InputError(f"{int(unknown.sum())} DIASource(s) belong to visits missing from the "
                         f"visit table, e.g. visit {diasources['visit'].to_numpy()[unknown][0]}")
    midpoints = visit_midpoints(visits)
    nights = night_of(midpoints)
    if isinstance(cache_or_orbits, pd.DataFrame) and np.unique(nights).size > 1:
        options = dict(observatory_code=observatory_code, magnitude_limit=magnitude_limit,
                       magnitude_window=magnitude_window, uncertainty_arcsec=uncertainty_arcsec,
                       trailed_min_arcsec=trailed_min_arcsec,
                       trail_length_tolerance_arcsec=trail_length_tolerance_arcsec,
                       trail_angle_tolerance_deg=trail_angle_tolerance_deg,
                       footprint=footprint, progress=progress, executor=executor,
                       dataset=dataset)
        return _associate_nights(diasources, visits, nights, cache_or_orbits, radius_arcsec,
                                 options)
    cache = _cache_for(cache_or_orbits, diasources, visits, observatory_code, executor)
    settings = _Settings(cache, footprint, radius_arcsec, uncertainty_arcsec, magnitude_limit,
                         magnitude_window, trailed_min_arcsec, trail_length_tolerance_arcsec,
                         trail_angle_tolerance_deg)

    columns = [c for c in ("diaSourceId", "visit", "midpointMjdTai", "ra", "dec", "psfFlux",
                           "trailLength", "trailAngle", "trailLengthErr", "trailAngleErr",
                           "trailDeltaChi2", "trailFlags") if c in diasources.columns]
    sources = {c: diasources[c].to_numpy() for c in columns}
    sources["diaSourceId"] = sources["diaSourceId"].astype(np.int64)
    xyz = unit_vectors(sources["ra"].astype(np.float64), sources["dec"].astype(np.float64))
    # Within a visit, sources in diaSourceId order: the order a dataset is read in.
    by_visit = np.lexsort((sources["diaSourceId"], sources["visit"]))
    visit_ids = visits["observationId"].to_numpy(np.int64)
    first = np.searchsorted(sources["visit"][by_visit], visit_ids, side="left")
    last = np.searchsorted(sources["visit"][by_visit], visit_ids, side="right")
    if executor is not None and not isinstance(executor, SerialExecutor):
        # Units of visits close on the sky, each with the part of the cache its fields reach.
        options = (radius_arcsec, uncertainty_arcsec, magnitude_limit, magnitude_window,
                   trailed_min_arcsec, trail_length_tolerance_arcsec, trail_angle_tolerance_deg,
                   footprint, settings.cone_deg)
        sky_order = np.argsort(hp.ang2pix(UNIT_NSIDE, visits["fieldRA"].to_numpy(np.float64),
                                          visits["fieldDec"].to_numpy(np.float64), nest=True,
                                          lonlat=True), kind="stable")
        picks = [sky_order[k:k + VISITS_PER_UNIT]
                 for k in range(0, len(visits), VISITS_PER_UNIT)]

        def units():  # made while the first ones already run
            for pick in picks:
                part = visits.iloc[pick]
                rows = np.concatenate([by_visit[first[j]:last[j]] for j in pick])
                nights = np.unique(night_of(midpoints[pick])).tolist()
                data = ((str(dataset), columns, rows.size, nights) if dataset and rows.size
                        else ({c: v[rows] for c, v in sources.items()}, xyz[rows]))
                yield (cache.near(part["fieldRA"], part["fieldDec"], settings.cone_deg),
                       options, part, midpoints[pick], data)

        results = [None] * len(visits)
        with stage(progress, "association", len(visits), "visits") as bar:
            for pick, part in zip(picks, executor.map(_visit_unit, units()), strict=True):
                for j, visit in zip(pick, part, strict=True):
                    results[j] = visit
            bar.update(len(visits))
    else:
        results = []
        with stage(progress, "association", len(visits), "visits") as bar:
            for j in range(len(visits)):
                rows = by_visit[first[j]:last[j]]
                results.append(_associate_visit(settings, visits.iloc[j], float(midpoints[j]),
                                                sources, rows, xyz))
                bar.update(j + 1)
    sss, missed, counts = zip(*results, strict=True) if results else ((), (), ())
    return _assemble(diasources, list(sss), list(missed), list(counts))


def _visit_unit(unit) -> list:
    """Work unit: consecutive visits with their DIASources (or where in a dataset to read them)
    and the part of the cache their fields reach, associated on a worker exactly as
    :func:`associate` does in process."""
    cache, options, visits, midpoints, data = unit
    (radius, uncertainty, magnitude_limit, magnitude_window, trailed_min, length_tol,
     angle_tol, footprint, cone_deg) = options
    if isinstance(data[0], str):  # a dataset: this unit's visits are read here
        sources, xyz = _read_unit_sources(visits, *data)
    else:
        sources, xyz = data
    settings = _Settings(cache, footprint, radius, uncertainty, magnitude_limit,
                         magnitude_window, trailed_min, length_tol, angle_tol)
    settings.cone_deg = cone_deg  # the whole cache's, whose cones chose this part
    order = np.argsort(sources["visit"], kind="stable")
    out = []
    for j in range(len(visits)):
        visit_id = int(visits["observationId"].iloc[j])
        rows = order[sources["visit"][order] == visit_id]
        out.append(_associate_visit(settings, visits.iloc[j], float(midpoints[j]), sources,
                                    rows, xyz))
    return out


def _read_unit_sources(visits, folder, columns, expected, nights):
    """The DIASources of ``visits`` (on ``nights``) from the dataset ``folder``, as
    :func:`associate` holds them (sorted by visit and diaSourceId), and their unit vectors."""
    frame = read_diasource_dataset(folder, nights, visits["observationId"], columns)
    if len(frame) != expected:
        raise InputError(f"the DIASource dataset {folder} holds {len(frame)} DIASources of visits "
                         f"{visits['observationId'].iloc[0]}-{visits['observationId'].iloc[-1]};"
                         f" the table being associated has {expected}: give the dataset it came "
                         "from")
    sources = {c: frame[c].to_numpy() for c in columns}
    sources["diaSourceId"] = sources["diaSourceId"].astype(np.int64)
    return sources, unit_vectors(sources["ra"].astype(np.float64),
                                 sources["dec"].astype(np.float64))


def _assemble(diasources, sss, missed, counts) -> AssociationResult:
    sssources = pd.DataFrame({c: np.concatenate([b[c] for b in sss]) for c in SSSOURCE_COLUMNS},
                             columns=list(SSSOURCE_COLUMNS))
    sssources = sssources.astype({"ssObjectId": np.int64, "diaSourceId": np.int64,
                                  "diaDistanceRank": np.int64})
    sssources = sssources.sort_values("diaSourceId", kind="stable", ignore_index=True)
    unassociated = pd.DataFrame(
        {c: np.concatenate([b[c] for b in missed]) for c in UNASSOCIATED_COLUMNS},
        columns=list(UNASSOCIATED_COLUMNS))
    unassociated = unassociated.astype({"visit": np.int64, "ssObjectId": np.int64,
                                        "object_id": str, "detector": np.int64})
    unassociated = unassociated.sort_values(["visit", "ssObjectId"], kind="stable",
                                            ignore_index=True)
    visit_counts = pd.DataFrame(counts, columns=list(VISIT_COUNT_COLUMNS)).astype(np.int64)
    out = diasources.copy()
    # Positional lookup: a map through a float column would round 64-bit identifiers.
    where = pd.Index(sssources["diaSourceId"]).get_indexer(out["diaSourceId"].to_numpy(np.int64))
    found = where >= 0
    ss_object_id = np.zeros(len(out), dtype=np.int64)
    ss_object_id[found] = sssources["ssObjectId"].to_numpy()[where[found]]
    out["ssObjectId"] = pd.arrays.IntegerArray(ss_object_id, ~found)
    return AssociationResult(out, sssources, unassociated, visit_counts)
