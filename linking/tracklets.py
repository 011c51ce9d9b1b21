"""Intra-night tracklets: pairs and longer chains of detections of one moving object.

Rules
-----
* **Pairs.** Two detections of the same night form a pair when their time difference lies in
  [``min_dt_s``, ``max_dt_h``], their angular rate (great-circle separation / time difference)
  is at most ``max_rate_deg_per_day`` and any trail they carry agrees with the motion (below).
  Candidates come from a KD-tree on unit vectors queried with the chord of the largest possible
  motion, ``chord_length(max_rate × max_dt)``, so the search is near-linear in the number of
  detections for survey densities rather than all-pairs. There is no minimum motion here: a
  slow object near its stationary point, or one seen on back-to-back visits a minute apart,
  moves less than an arcsecond.
* **Trails.** When a detection has a finite ``trailAngle`` (degrees, North through East) its
  angle must agree, modulo 180°, with the position angle of the pair's motion at that detection
  within ``trail_angle_tolerance_deg``. The angle is ignored when ``trailLength`` is present and
  shorter than ``trail_length_tolerance_arcsec`` (an unresolved trail has no direction). The
  trail length is checked only when the table has ``visitExposureTime_s``: it must equal the
  pair's rate × exposure time within ``trail_length_tolerance_arcsec``.
* **Chains.** Every pair seeds a greedy growth: among the detections paired with a current
  member (and at least ``min_dt_s`` from every member), the one whose addition gives the
  smallest largest residual from a constant-velocity straight line in the tangent plane (a great
  circle at constant rate, see ``_tracklet_kernels``) is added while that residual is within
  ``max_great_circle_residual_arcsec``. Chains of three or more are kept; identical chains and
  chains contained in a longer chain are dropped, and so are pairs both of whose detections lie
  in one chain. A detection may belong to several tracklets.
* **Motion.** A tracklet (pair or chain) is kept only when its motion is significant against
  its detections' astrometric errors: with the fitted tangent-plane velocity v, the members'
  times t and their mean variance per coordinate σ² (``raErr``/``decErr``, or
  ``default_sigma_arcsec``), |v| must reach ``min_motion_sigma`` times its error per coordinate
  σ / √Σ(t − t̄)² (|v|² over that error squared is χ² with 2 degrees of freedom for a
  stationary source; for a pair, the squared separation over the sum of the two variances).
  A stationary source detected on three or more visits of a night makes one chain without
  significant motion, which goes, and with it its sub-pairs; one detected twice passes with
  probability exp(−``min_motion_sigma``²/2).
* **Trail tracklets.** A detection in no tracklet whose measured trail gives its motion
  (:func:`linking.detections.usable_trails`: errors, ``visitExposureTime_s``, length at least
  ``min_trail_sigma`` of its error, better than a point source, unflagged) becomes a tracklet
  by itself, twice — once for each sense of the motion, a trail having no head: from one end
  of the trail at the exposure's start to the other at its end
  (:func:`linking.detections.trail_ends`, with the observer at those times), its rate the
  trail's length over the exposure along ``trailAngle``, its rate error from the length's and
  the angle's errors. So an object seen once per night can be linked. ``trail_tracklets``
  turns them off; ``max_rate_deg_per_day`` does not apply to them.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from ephemerides.errors import InputError
from ephemerides.schemas import TRACKLET
from ephemerides.sky import chord_length, unit_vectors
from linking._tracklet_kernels import fit_tracklets, grow_chains
from linking.detections import (
    astrometric_sigma_arcsec,
    measured_trail_tolerances,
    prepare_detections,
    trail_ends,
    usable_trails,
)

SECONDS_PER_DAY = 86400.0
ARCSEC_PER_RAD = np.rad2deg(1.0) * 3600.0
#: The float columns of a tracklets table, in order (after tracklet_id, night, n_detections).
FLOAT_COLUMNS = tuple(c.name for c in TRACKLET.columns if c.dtype == "float64")


@dataclass(frozen=True)
class TrackletConfig:
    """Thresholds of the tracklet builder (validated when used).

    Attributes
    ----------
    min_dt_s : float
        Shortest time between two detections of a tracklet, seconds: 1 s separates distinct
        exposures while rejecting two detections from one exposure (e.g. a split source).
    max_dt_h : float
        Longest time between the two detections of a pair, hours: 1.5 h covers Rubin's
        same-night revisit (typically 15–60 min) with margin.
    max_rate_deg_per_day : float
        Fastest angular rate, degrees/day: 1.5°/day keeps main-belt objects, Jupiter Trojans and
        most NEOs, as HelioLinC3D's default does; raise it for fast NEOs.
    min_motion_sigma : float
        Smallest significance of a tracklet's motion, in σ of its astrometry (module
        docstring): 2 keeps a 0.3″ motion measured with 0.1″ errors half of the time and
        passes 13.5 % of the pairs of a source seen twice at one place; chains of three or
        more from one place are rejected far more surely.
    default_sigma_arcsec : float
        Astrometric error per coordinate of a detection without ``raErr``/``decErr``, arcsec.
    max_great_circle_residual_arcsec : float
        Largest residual of a member of a chain of 3+ from its constant-rate great circle,
        arcsec: a few times LSST's ~0.1″ astrometric error for bright sources.
    trail_length_tolerance_arcsec : float
        Trails shorter than this have no usable angle; also the tolerance of the trail-length
        check when exposure times are known, arcsec (≈ the seeing).
    trail_angle_tolerance_deg : float
        Allowed difference between a trail's angle and the pair's direction of motion, degrees.
        A trail measured with errors (``sso.cutouts``) is checked against 5σ of them instead
        of these two tolerances, and only when it beats a point source and is unflagged.
    min_trail_sigma : float
        A trail makes a tracklet when its length is at least this many of its errors (5).
    trail_tracklets : bool
        Make trail tracklets (module docstring).
    """

    min_dt_s: float = 1.0
    max_dt_h: float = 1.5
    max_rate_deg_per_day: float = 1.5
    min_motion_sigma: float = 2.0
    default_sigma_arcsec: float = 0.1
    max_great_circle_residual_arcsec: float = 0.5
    trail_length_tolerance_arcsec: float = 1.0
    trail_angle_tolerance_deg: float = 15.0
    min_trail_sigma: float = 5.0
    trail_tracklets: bool = True

    def validate(self) -> None:
        """Raise ValueError if a threshold is not a finite, positive number or the times clash."""
        if not isinstance(self.trail_tracklets, bool):
            raise InputError(f"TrackletConfig.trail_tracklets must be True or False; got "
                             f"{self.trail_tracklets!r}")
        for name, value in self.__dict__.items():
            if name == "trail_tracklets":
                continue
            if not (np.isfinite(value) and value > 0):
                raise InputError(f"TrackletConfig.{name} must be finite and > 0; got {value!r}")
        if self.min_dt_s >= self.max_dt_h * 3600.0:
            raise InputError(
                f"TrackletConfig.min_dt_s={self.min_dt_s} s must be below max_dt_h="
                f"{self.max_dt_h} h"
            )


@dataclass
class Tracklets:
    """Tracklets found in one batch of detections.

    Attributes
    ----------
    tracklets : pandas.DataFrame
        One row per tracklet, sorted by ``tracklet_id``: ``tracklet_id`` (int64, the rank of the
        tracklet's time-ordered member list among all, so it depends only on the detections, not
        on their row order), ``night``, ``n_detections``, ``mjd_tai_start``, ``mjd_tai_end``,
        ``ra_start_deg, dec_start_deg, ra_end_deg, dec_end_deg`` (the fitted track at the first
        and last times for chains of 3+, the detections themselves for pairs),
        ``ra_rate_deg_per_day`` (dRA/dt·cos Dec) and ``dec_rate_deg_per_day`` at the mean
        position, ``rate_err_deg_per_day`` (1-σ error of each rate component from the members'
        astrometric errors), ``obs_start_x_au … obs_end_z_au`` (heliocentric ICRF observer
        positions at the first and last detections).
    members : pandas.DataFrame
        ``tracklet_id, diaSourceId``, one row per membership, in tracklet then time order.
    """

    tracklets: pd.DataFrame
    members: pd.DataFrame


def _position_angle_deg(ra1, dec1, ra2, dec2) -> np.ndarray:
    """Position angle (degrees East of North, in [0, 360)) at point 1 of the arc to point 2."""
    ra1, dec1, ra2, dec2 = (np.deg2rad(a) for a in (ra1, dec1, ra2, dec2))
    dra = ra2 - ra1
    angle = np.arctan2(
        np.sin(dra) * np.cos(dec2),
        np.cos(dec1) * np.sin(dec2) - np.sin(dec1) * np.cos(dec2) * np.cos(dra),
    )
    return np.rad2deg(angle) % 360.0


def _trail_consistent(frame, i, j, rate_deg_per_day, config) -> np.ndarray:
    """Boolean mask of pairs whose detections' trails (where measured) agree with the motion.

    A trail measured with errors (:func:`linking.detections.measured_trail_tolerances`) is
    checked only when it is significant, against 5σ of its errors; one without errors with the
    fixed tolerances (its angle only when it is longer than the length tolerance)."""
    ok = np.ones(i.size, dtype=bool)
    if "trailAngle" not in frame.columns:
        return ok
    ra = frame["ra"].to_numpy(np.float64)
    dec = frame["dec"].to_numpy(np.float64)
    angle = frame["trailAngle"].to_numpy(np.float64)
    length = (
        frame["trailLength"].to_numpy(np.float64)
        if "trailLength" in frame.columns
        else np.full(len(frame), np.nan)
    )
    exposure = (
        frame["visitExposureTime_s"].to_numpy(np.float64)
        if "visitExposureTime_s" in frame.columns
        else None
    )
    for this, other in ((i, j), (j, i)):
        measured, significant, length_tol, angle_tol = measured_trail_tolerances(
            frame, this, config.trail_length_tolerance_arcsec, config.trail_angle_tolerance_deg)
        motion = _position_angle_deg(ra[this], dec[this], ra[other], dec[other])
        resolved = ~(length[this] < config.trail_length_tolerance_arcsec)
        check = np.where(measured, significant, np.isfinite(angle[this]) & resolved)
        difference = np.abs((angle[this] - motion + 90.0) % 180.0 - 90.0)
        ok &= ~check | (difference <= angle_tol)
        if exposure is not None:
            expected = rate_deg_per_day * 3600.0 * exposure[this] / SECONDS_PER_DAY
            check = np.where(measured, significant, np.isfinite(length[this]))
            check &= np.isfinite(expected)
            ok &= ~check | (np.abs(length[this] - expected) <= length_tol)
    return ok


def find_pairs(frame: pd.DataFrame, config: TrackletConfig) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (i, j), i < j, of all valid pairs in a prepared, time-sorted table.

    Parameters
    ----------
    frame : pandas.DataFrame
        Output of :func:`linking.detections.prepare_detections`.
    config : TrackletConfig

    Returns
    -------
    i, j : ndarray of int64
        Pairs sorted by (i, j); ``i`` is the earlier detection.
    """
    mjd = frame["midpointMjdTai"].to_numpy(np.float64)
    uvec = unit_vectors(frame["ra"].to_numpy(np.float64), frame["dec"].to_numpy(np.float64))
    night = frame["night"].to_numpy(np.int64)
    max_dt_days = config.max_dt_h / 24.0
    radius = chord_length(config.max_rate_deg_per_day * max_dt_days) * (1.0 + 1e-9) + 1e-15
    found_i, found_j = [], []
    for value in np.unique(night):
        rows = np.flatnonzero(night == value)
        # Filtered night by night: the candidate pairs of a whole window do not fit in memory
        # at survey densities (~4 × 10⁶ per night for 10⁵ detections of a field).
        local = cKDTree(uvec[rows]).query_pairs(radius, output_type="ndarray").astype(np.int64)
        i, j = rows[local.min(axis=1)], rows[local.max(axis=1)]
        dt = mjd[j] - mjd[i]
        chord = np.linalg.norm(uvec[j] - uvec[i], axis=1)
        separation_deg = np.rad2deg(2.0 * np.arcsin(np.minimum(chord / 2.0, 1.0)))
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = separation_deg / dt
        keep = ((dt >= config.min_dt_s / SECONDS_PER_DAY) & (dt <= max_dt_days)
                & (rate <= config.max_rate_deg_per_day))
        i, j, rate = i[keep], j[keep], rate[keep]
        keep = _trail_consistent(frame, i, j, rate, config)
        found_i.append(i[keep])
        found_j.append(j[keep])
    i = np.concatenate(found_i) if found_i else np.empty(0, dtype=np.int64)
    j = np.concatenate(found_j) if found_j else np.empty(0, dtype=np.int64)
    order = np.lexsort((j, i))
    return i[order], j[order]


def _pair_graph(n: int, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Compressed sparse-row adjacency (indptr, neighbours) of the undirected pair graph."""
    source = np.concatenate((i, j))
    target = np.concatenate((j, i))
    order = np.argsort(source, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(source, minlength=n), out=indptr[1:])
    return indptr, target[order].astype(np.int64)


def _unique_chains(offsets: np.ndarray, members: np.ndarray) -> list[tuple[int, ...]]:
    """Time-ordered member tuples of the distinct chains not contained in a longer one."""
    chains = {
        tuple(sorted(members[offsets[k]: offsets[k + 1]].tolist()))
        for k in range(offsets.size - 1)
    }
    by_member: dict[int, list[frozenset]] = {}
    for chain in chains:
        for d in chain:
            by_member.setdefault(d, []).append(frozenset(chain))
    kept = []
    for chain in chains:
        as_set = frozenset(chain)
        if not any(len(other) > len(chain) and as_set < other for other in by_member[chain[0]]):
            kept.append(chain)
    return kept


def make_tracklets(
    detections: pd.DataFrame,
    config: TrackletConfig | None = None,
    observatory_code: str | None = "X05",
) -> Tracklets:
    """Build the intra-night tracklets (pairs and longer chains) of a table of detections.

    Parameters
    ----------
    detections : pandas.DataFrame
        DiaSource-style table; passed through :func:`linking.detections.prepare_detections`
        (which uses ``observatory_code``), so a table it already prepared works as well.
    config : TrackletConfig, optional
        Thresholds; ``TrackletConfig()`` when omitted. The rules are in this module's docstring.
    observatory_code : str or None
        MPC code of the site, for tables without observer positions or per-row codes.

    Returns
    -------
    Tracklets
        The tracklets and their members; the result does not depend on the input row order.
    """
    config = TrackletConfig() if config is None else config
    config.validate()
    frame = prepare_detections(detections, observatory_code=observatory_code)
    n = len(frame)
    mjd = frame["midpointMjdTai"].to_numpy(np.float64)
    uvec = np.ascontiguousarray(
        unit_vectors(frame["ra"].to_numpy(np.float64), frame["dec"].to_numpy(np.float64))
    )
    i, j = find_pairs(frame, config)
    indptr, neighbours = _pair_graph(n, i, j)
    chain_offsets, chain_members = grow_chains(
        uvec, mjd, i, j, indptr, neighbours, config.min_dt_s / SECONDS_PER_DAY,
        config.max_great_circle_residual_arcsec / ARCSEC_PER_RAD,
    )
    chains = _unique_chains(chain_offsets, chain_members)
    covered = np.array([a * n + b for chain in chains for x, a in enumerate(chain)
                        for b in chain[x + 1:]], dtype=np.int64)
    lone = ~np.isin(i * n + j, covered)

    width = max((len(c) for c in chains), default=2)
    table = np.full((int(lone.sum()) + len(chains), width), -1, dtype=np.int64)
    table[: lone.sum(), 0] = i[lone]
    table[: lone.sum(), 1] = j[lone]
    for row, chain in enumerate(chains, start=int(lone.sum())):
        table[row, : len(chain)] = chain
    table = table[np.lexsort(table.T[::-1])]
    lengths = (table >= 0).sum(axis=1)
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    start, end, rate_east, rate_north, _ = fit_tracklets(uvec, mjd, offsets, table[table >= 0])
    sigma_rad = astrometric_sigma_arcsec(frame, config.default_sigma_arcsec) / ARCSEC_PER_RAD
    rate_error = _rate_error(table, mjd, sigma_rad)
    moving = np.hypot(rate_east, rate_north) >= config.min_motion_sigma * rate_error
    table, lengths, start, end, rate_east, rate_north, rate_error = (
        a[moving] for a in (table, lengths, start, end, rate_east, rate_north, rate_error))
    flat = table[table >= 0]

    first = table[:, 0]
    last = table[np.arange(len(table)), lengths - 1]
    # The float columns filled in place in one block that the table wraps without a copy
    # (a table of 10⁶ tracklets is ~0.3 GB; built column by column it would briefly be twice).
    block = np.empty((len(FLOAT_COLUMNS), len(table)))
    values = dict(zip(FLOAT_COLUMNS, block, strict=True))
    values["mjd_tai_start"][:] = mjd[first]
    values["mjd_tai_end"][:] = mjd[last]
    pair_rows = lengths == 2
    for side, ends, fitted in (("start", first, start), ("end", last, end)):
        ra, dec = values[f"ra_{side}_deg"], values[f"dec_{side}_deg"]
        ra[:], dec[:] = _to_radec(fitted)
        # A pair's ends are its detections, as measured.
        ra[pair_rows] = frame["ra"].to_numpy(np.float64)[ends[pair_rows]]
        dec[pair_rows] = frame["dec"].to_numpy(np.float64)[ends[pair_rows]]
        for axis in "xyz":
            values[f"obs_{side}_{axis}_au"][:] = frame[f"observer_{axis}_au"].to_numpy(
                np.float64)[ends]
    values["ra_rate_deg_per_day"][:] = np.rad2deg(rate_east)
    values["dec_rate_deg_per_day"][:] = np.rad2deg(rate_north)
    values["rate_err_deg_per_day"][:] = np.rad2deg(rate_error)
    del start, end, rate_east, rate_north, rate_error
    tracklets = pd.DataFrame(block.T, columns=list(FLOAT_COLUMNS), copy=False)
    ids = np.arange(len(table), dtype=np.int64)
    for position, (name, column) in enumerate((
            ("tracklet_id", ids), ("night", frame["night"].to_numpy(np.int64)[first]),
            ("n_detections", lengths.astype(np.int64)))):
        tracklets.insert(position, name, column)
    members = pd.DataFrame({
        "tracklet_id": np.repeat(ids, lengths),
        "diaSourceId": frame["diaSourceId"].to_numpy(np.int64)[flat],
    })
    if config.trail_tracklets:
        alone = usable_trails(frame, config.min_trail_sigma)
        alone[flat] = False  # detections in a tracklet keep it
        if alone.any():
            extra, extra_members = _trail_tracklets(frame, np.flatnonzero(alone), len(table),
                                                    config)
            tracklets = pd.concat([tracklets, extra], ignore_index=True)
            members = pd.concat([members, extra_members], ignore_index=True)
    return Tracklets(tracklets=tracklets, members=members)


def _trail_tracklets(frame: pd.DataFrame, rows: np.ndarray, first_id: int,
                     config: TrackletConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two tracklets per detection of ``rows`` (module docstring), ids from ``first_id`` in
    ``diaSourceId`` order, the sense along ``trailAngle`` first."""
    rows = rows[np.argsort(frame["diaSourceId"].to_numpy(np.int64)[rows], kind="stable")]
    times, ends, observers, _ = trail_ends(frame, rows, config.default_sigma_arcsec)
    exposure_days = np.diff(times, axis=1)[:, 0]
    length_deg = frame["trailLength"].to_numpy(np.float64)[rows] / 3600.0
    angle = np.deg2rad(frame["trailAngle"].to_numpy(np.float64)[rows])
    rate_error = np.hypot(frame["trailLengthErr"].to_numpy(np.float64)[rows] / 3600.0,
                          length_deg * np.deg2rad(frame["trailAngleErr"].to_numpy(np.float64)
                                                  [rows])) / exposure_days
    parts = []
    for sense, (a, b) in ((1.0, (0, 1)), (-1.0, (1, 0))):
        start_ra, start_dec = _to_radec(ends[:, a])
        end_ra, end_dec = _to_radec(ends[:, b])
        part = {
            "night": frame["night"].to_numpy(np.int64)[rows],
            "n_detections": np.ones(rows.size, dtype=np.int64),
            "mjd_tai_start": times[:, 0], "mjd_tai_end": times[:, 1],
            "ra_start_deg": start_ra, "dec_start_deg": start_dec,
            "ra_end_deg": end_ra, "dec_end_deg": end_dec,
            "ra_rate_deg_per_day": sense * length_deg / exposure_days * np.sin(angle),
            "dec_rate_deg_per_day": sense * length_deg / exposure_days * np.cos(angle),
            "rate_err_deg_per_day": rate_error,
            **{f"obs_start_{axis}_au": observers[:, 0, k] for k, axis in enumerate("xyz")},
            **{f"obs_end_{axis}_au": observers[:, 1, k] for k, axis in enumerate("xyz")},
            "order": 2 * np.arange(rows.size) + (0 if sense > 0 else 1),
        }
        parts.append(pd.DataFrame(part))
    table = pd.concat(parts, ignore_index=True).sort_values("order", ignore_index=True)
    table.insert(0, "tracklet_id", first_id + np.arange(len(table), dtype=np.int64))
    table = table.drop(columns="order")
    members = pd.DataFrame({"tracklet_id": table["tracklet_id"].to_numpy(),
                            "diaSourceId": np.repeat(
                                frame["diaSourceId"].to_numpy(np.int64)[rows], 2)})
    return table[["tracklet_id", "night", "n_detections", *FLOAT_COLUMNS]], members


def _rate_error(table, mjd, sigma_rad) -> np.ndarray:
    """1-σ error per coordinate of each tracklet's fitted rate, radians/day: σ̄ / √Σ(t − t̄)²
    with σ̄² the members' mean variance (``table``: rows of member indices, −1 padded)."""
    count = (table >= 0).sum(axis=1)
    # Column by column: an (n, width) temporary per term would dominate the memory of a window.
    t_sum = np.zeros(len(table))
    for column in table.T:
        t_sum += np.where(column >= 0, mjd[column], 0.0)
    t_mean = t_sum / count
    spread = np.zeros(len(table))
    variance = np.zeros(len(table))
    for column in table.T:
        present = column >= 0
        spread += np.where(present, mjd[column] - t_mean, 0.0) ** 2
        variance += np.where(present, sigma_rad[column] ** 2, 0.0)
    return np.sqrt(variance / count / spread)


def _to_radec(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RA in [0, 360) and Dec, degrees, of unit vectors (k, 3)."""
    ra = np.rad2deg(np.arctan2(u[:, 1], u[:, 0])) % 360.0
    dec = np.rad2deg(np.arcsin(np.clip(u[:, 2], -1.0, 1.0)))
    return ra, dec
