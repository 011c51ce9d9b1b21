"""HelioLinC3D-style search: link tracklets across nights through heliocentric hypotheses.

Method (Holman et al. 2018, AJ 156, 135; Heinze et al. 2022, AJ 163, 27 and the heliolinc C++
code)
-----------------------------------------------------------------------------------------------
For each hypothesis (r₀, ṙ₀, r̈) of the heliocentric distance at the reference epoch t_ref:

1. every tracklet endpoint is placed at the heliocentric distance r(t) along its line of sight,
   at the light-time corrected emission time (:mod:`linking._heliolinc_kernels`); for
   hypotheses that come inside the observer's orbit (r(t) < |observer| somewhere in the data)
   a second point per tracklet takes the near intersection where the line of sight crosses the
   sphere twice, so NEOs between the Earth and the Sun are found too;
2. the two endpoints give a heliocentric state (mean position, finite-difference velocity);
   a tracklet whose state cannot belong to the hypothesis is left out of it — unbound beyond
   ``max_v_inf_km_per_s``, or moving across the line of sight at a speed that implies an r̈
   so different from the hypothesis' that it would sit more than ``accel_tolerance`` clustering
   radii from its object's other tracklets (both with a 3σ margin for its astrometry;
   :func:`linking._heliolinc_kernels.foreign_to_hypothesis`) — and the others are propagated to
   t_ref on a 2-body orbit around the Sun (universal variables,
   :func:`ephemerides._kepler_kernels.propagate_pairs`);
3. the states of one object's tracklets then nearly coincide when the hypothesis is close to the
   object's true (r, ṙ). The 6-D points (x, y, z, τ·vx, τ·vy, τ·vz), AU, are grouped: two
   tracklets are neighbours when their distance is at most the mean of their radii, a radius
   being ``cluster_radius_au_at_1au`` times the tracklet's topocentric distance in AU, floored
   at ``min_radius_geodist_au`` (the positional error of a projection grows with that distance;
   heliolinc's ``clustrad`` and ``clustchangerad``) — or, for a tracklet whose rate is poorly
   measured (a short pair), ``velocity_error_sigmas`` × its velocity error carried to t_ref
   when that is larger (at most ``max_radius_growth`` times; for a trail tracklet
   ``trail_error_sigmas`` ×, without a cap when the trail tracklets are searched alone).
   Clusters are the connected
   components of the neighbour graph (DBSCAN in which every point is a core point; DBSCAN
   proper also requires a core point to have ``npt`` neighbours); those with at least
   ``min_tracklets`` tracklets on ``min_nights`` distinct nights spanning ``min_arc_days`` are
   candidate linkages;
4. single linkage chains objects on similar orbits (and noise) into one component, so a cluster
   is checked night by night: one object's tracklets of one night lie on one track, so every
   tracklet of a night must pass within ``same_night_tolerance_arcsec`` of the first one's
   linear motion. A cluster that fails is clustered again with half the radii, up to
   ``max_splits`` times, and its qualifying parts are the candidates; parts that still fail
   at the smallest radius are not linkages of one object and are dropped.
   (HelioLinC3D bins tracklets by topocentric distance and clusters each bin with its own
   radius; the per-point radius is the same scaling without bin edges that split a cluster.)

Trail tracklets (single trailed detections, :mod:`linking.tracklets`) take part in the search
of every hypothesis and are searched once more, alone, under ``trail_hypotheses``: a grid spaced
for objects near the Earth, where fast movers are, too dense to project every tracklet under.

A linkage is the set of detections (``diaSourceId``) of its cluster's tracklets; the same set
found under several hypotheses is reported once, with the first hypothesis that found it (file
order) and the number of hypotheses that did.

Time scales: tracklet times are TAI; the dynamics use TDB = TAI + 32.184 s (TDB − TT, below 2 ms,
moves an object by < 0.1 km and is ignored).
"""

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import healpy as hp
import numpy as np
import pandas as pd

from ephemerides.constants import AU_KM, C_AU_PER_DAY, GM_SUN_AU3_PER_DAY2
from ephemerides.errors import InputError
from ephemerides.progress import Progress, stage
from ephemerides.schemas import TRACKLET
from ephemerides.sky import unit_vectors
from linking._heliolinc_kernels import (
    cluster_points,
    cluster_projected,
    project_hypothesis,
    qualifying_components,
)
from linking.hypotheses import COLUMNS as HYPOTHESIS_COLUMNS
from linking.hypotheses import POPULATIONS, is_grid_name, load_hypotheses
from linking.orbitfit import FitConfig
from linking.tracklets import TrackletConfig, Tracklets, make_tracklets

TT_MINUS_TAI_DAYS = 32.184 / 86400.0
# Hypotheses per work unit of search_tracklets on an executor. A unit carries the tracklet
# arrays (~150 bytes per tracklet) once, so larger units pickle less; 256 cuts the 7,398
# mb+neo hypotheses into 29 units. Units take every 29th hypothesis (not 256 consecutive ones):
# the cost of a hypothesis varies by 50× along a grid (near-Earth hypotheses cluster far more),
# and strided units cost alike, so that workers finish together. The candidates do not
# depend on it.
HYPOTHESES_PER_UNIT = 256


@dataclass(frozen=True)
class LinkingConfig:
    """Settings of the linking search: tracklets, hypotheses, clustering (validated when used).

    The defaults serve an LSST-like main-belt + NEO search (two visits per field and night,
    0.1″-class astrometry, 14-15 nights) without tuning.

    Attributes
    ----------
    tracklets : TrackletConfig
        Intra-night tracklet settings (:class:`linking.TrackletConfig`).
    fit : FitConfig
        Orbit-fit settings of :func:`linking.link` (:class:`linking.FitConfig`).
    hypotheses : str
        Built-in grid (population names joined by ``+``: ``neo``, ``mb``, ``trojan``,
        ``tno``, or ``all``; see :mod:`linking.hypotheses`) or the path of a hypothesis file.
        ``"mb+neo"``: the main belt and near-Earth objects, most of what LSST discovers.
    cluster_radius_au_at_1au : float
        Clustering radius of a tracklet 1 AU from the observer, AU; it scales linearly with the
        tracklet's topocentric distance. 1e5 km is heliolinc's default ``clustrad`` (also the
        Rubin pipeline's); it absorbs the spacing of the bundled main-belt grids (all ten
        simulated LSST objects link with the 213-hypothesis grid).
    velocity_timescale_days : float or None
        τ, days, multiplying velocities in the clustering space, so that a velocity difference
        counts as the position difference it makes after τ. None: a quarter of the data's time
        span (at least 0.25 day), ~3.5 days for an LSST-like 14-night window: a velocity error
        then weighs as much as the position error it causes a quarter-span away from t_ref.
    reference_mjd_tdb : float or None
        Epoch at which the hypotheses hold and states are compared, MJD TDB. None: the middle
        of the tracklets' time span, which halves the longest propagation.
    min_radius_geodist_au : float
        Topocentric distance, AU, below which the radius stops shrinking: 0.5 AU, heliolinc's
        ``clustchangerad``, so that the nearest NEOs keep a radius that absorbs the hypothesis
        grid's spacing.
    velocity_error_sigmas : float
        A tracklet whose rate is poorly measured (a pair of back-to-back visits a minute or two
        apart) lands at t_ref far from its object's other tracklets. Its radius is the larger
        of the one above and this many σ of its velocity error carried to t_ref in the
        clustering space, ``ρ σ_rate (|t_ref − t| + τ)`` (``rate_err_deg_per_day``), at most
        ``max_radius_growth`` times the radius above. 2 leaves well-measured tracklets at their
        radius, and on bench_linking's quadrature field links 25 more of its 1,436 findable
        objects (slow ones near their stationary points with a short pair on one of their
        three nights) for 13 % more search time; 0 turns it off.
    max_radius_growth : float
        Largest factor by which a tracklet's radius grows with its velocity error (≥ 1): 4
        (larger links no more objects on the benchmark fields, and costs time and purity).
    trail_error_sigmas : float
        The same for a trail tracklet (a single trailed detection, :mod:`linking.tracklets`),
        whose radius is this many σ of its velocity error carried to t_ref, and, in the search
        of the trail tracklets alone (``trail_hypotheses``), without a cap: its rate, from a
        trail 30 s long, is known to a few per cent, 30-50× worse than a pair's, and under the
        object's own hypothesis its tracklets of different nights lie that far apart. 5: the
        error is two-dimensional (across the line of sight), so two tracklets whose radii are
        k σ each miss each other in exp(−k²/4) to exp(−k²/8) of the cases (37-61 % at 2σ,
        0.2-4 % at 5σ). Among pairs an uncapped radius would join the tracklets of many
        objects into components that the night check then drops (bench_trails' twilight
        field lost 24 of 276 objects so), hence the cap there.
    trail_hypotheses : str or None
        Built-in grid or hypothesis file searched with the trail tracklets alone, besides
        ``hypotheses`` (searched with every tracklet): ``"close"``, the near-Earth grid spaced
        for objects down to 0.15 AU from the observer (:mod:`linking.hypotheses`), as the fast
        movers that trail are. The ``neo`` grid's spacing (for 0.5 AU) projects an object 0.1
        AU away with an error of ~20 % of its distance, which its tracklets of different nights,
        seen in directions tens of degrees apart, do not survive. Only the trail tracklets are
        projected under its ~10⁵ hypotheses: ~30 s per window on two cores (bench_trails'
        twilight field, 150 trail tracklets: 49 s against 21 s without trail tracklets). None:
        trail tracklets are searched with ``hypotheses`` only.
    min_tracklets : int
        Fewest tracklets in a cluster: 3, heliolinc's DBSCAN ``npt`` (three tracklets make an
        orbit determinable).
    min_nights : int
        Fewest distinct nights in a cluster: 3, Rubin's discovery rule (tracklets on three
        nights within 15 days).
    min_arc_days : float
        Shortest time from the first to the last detection of a linkage, days: 1 day,
        heliolinc's ``mintimespan``.
    same_night_tolerance_arcsec : float
        Largest distance between a tracklet and the linear motion of the cluster's first
        tracklet of that night, arcsec: 10″ covers a 30-min pair's rate error extrapolated over
        a few hours at 0.3″ astrometry; another object within 10″ on the same night is rare
        (0.3 % at 100 objects/deg²).
    max_splits : int
        How many times a cluster failing that check is re-clustered with halved radii: 3
        (down to an eighth of the radius, where two objects' states rarely still touch).
    threads : int or None
        Hypotheses searched at once, each on its own thread (the kernels release the GIL);
        None: the CPUs this process may use. Memory is ~200 bytes × tracklets per thread (a
        10⁶-tracklet field: ~0.2 GB each). Results do not depend on it. Not used when
        :func:`search_tracklets` is given an executor (one thread per work unit).
    max_v_inf_km_per_s : float
        Largest hyperbolic excess speed of an orbit, km/s (HelioLinC3D's ``max_v_inf``): under
        each hypothesis a tracklet whose projected speed exceeds the escape speed combined with
        this by more than 3 σ of its astrometry is left out. 0: bound orbits only, as
        HelioLinC3D's default; ~30 for interstellar objects.
    accel_tolerance : float
        Orbit-family test of each projected tracklet
        (``_heliolinc_kernels.foreign_to_hypothesis``): a hypothesis's r̈ fixes the transverse
        speed of an object at r, and a tracklet moving otherwise (beyond 3 σ of its astrometry)
        is placed at a distance off by
        ½ Δr̈ (t_ref − t)²; beyond this many clustering radii it cannot cluster with its
        object's other tracklets and is left out of that hypothesis (another one of the grid
        holds it). 2 keeps every object the unfiltered search finds on the benchmark fields
        and leaves out most tracklets of a main-belt field under near-Earth hypotheses.
    light_time : bool
        Correct the endpoint times for light time (True: up to ~25 min at 3 AU, i.e. ~10⁴ km
        of motion, a tenth of the default radius).
    sky_nside : int or None
        Sky partitions, for windows too large to search at once (a whole sky): None searches
        all tracklets together. A power of two cuts the sky into HEALPix (NESTED) pixels of
        ~58.6°/sky_nside; a work unit then holds the tracklets that start in one pixel or its
        8 neighbours and keeps the clusters whose first tracklet (in ``tracklet_id`` order)
        starts in the pixel itself, so that each cluster is searched once and a unit's memory
        follows its partition. A cluster whose tracklets reach beyond those neighbours is
        missed or cut: 4 (15° pixels) suits main-belt motion over 15 nights; fast NEOs need a
        coarser sky. The partitions run as work units on :func:`search_tracklets`'s executor
        (without one, one after another in this process).
    """

    tracklets: TrackletConfig = field(default_factory=TrackletConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    hypotheses: str = "mb+neo"
    cluster_radius_au_at_1au: float = 1.0e5 / AU_KM
    velocity_timescale_days: float | None = None
    reference_mjd_tdb: float | None = None
    min_radius_geodist_au: float = 0.5
    velocity_error_sigmas: float = 2.0
    max_radius_growth: float = 4.0
    trail_error_sigmas: float = 5.0
    trail_hypotheses: str | None = "close"
    min_tracklets: int = 3
    min_nights: int = 3
    min_arc_days: float = 1.0
    same_night_tolerance_arcsec: float = 10.0
    max_splits: int = 3
    threads: int | None = None
    max_v_inf_km_per_s: float = 0.0
    accel_tolerance: float = 2.0
    light_time: bool = True
    sky_nside: int | None = None

    def validate(self) -> None:
        """Raise ValueError naming the setting when one is out of range."""
        if not isinstance(self.tracklets, TrackletConfig):
            raise InputError(
                f"LinkingConfig.tracklets must be a TrackletConfig; got {self.tracklets!r}"
            )
        self.tracklets.validate()
        if not isinstance(self.fit, FitConfig):
            raise InputError(f"LinkingConfig.fit must be a FitConfig; got {self.fit!r}")
        for name in ("hypotheses", "trail_hypotheses"):
            value = getattr(self, name)
            if name == "trail_hypotheses" and value is None:
                continue
            if not (is_grid_name(value) or (isinstance(value, str | os.PathLike)
                                            and Path(value).is_file())):
                raise InputError(
                    f"LinkingConfig.{name} must name a built-in grid (populations "
                    f"{', '.join(POPULATIONS)} joined by '+', or 'all') or an existing "
                    f"hypothesis file{' (or be None)' if name == 'trail_hypotheses' else ''}; "
                    f"got {value!r}")
        self.fit.validate()
        checks = {
            "cluster_radius_au_at_1au": self.cluster_radius_au_at_1au,
            "velocity_timescale_days": self.velocity_timescale_days,
            "min_radius_geodist_au": self.min_radius_geodist_au,
            "same_night_tolerance_arcsec": self.same_night_tolerance_arcsec,
            "accel_tolerance": self.accel_tolerance,
        }
        for name, value in checks.items():
            if value is not None and not (np.isfinite(value) and value > 0):
                raise InputError(f"LinkingConfig.{name} must be finite and > 0; got {value!r}")
        for name in ("max_v_inf_km_per_s", "velocity_error_sigmas", "trail_error_sigmas"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise InputError(f"LinkingConfig.{name} must be finite and >= 0; got {value!r}")
        if not (np.isfinite(self.max_radius_growth) and self.max_radius_growth >= 1):
            raise InputError(f"LinkingConfig.max_radius_growth must be finite and >= 1; got "
                             f"{self.max_radius_growth!r}")
        if not (np.isfinite(self.min_arc_days) and self.min_arc_days >= 0):
            raise InputError(
                f"LinkingConfig.min_arc_days must be finite and >= 0; got {self.min_arc_days!r}"
            )
        if self.reference_mjd_tdb is not None and not np.isfinite(self.reference_mjd_tdb):
            raise InputError(
                f"LinkingConfig.reference_mjd_tdb must be finite or None; got "
                f"{self.reference_mjd_tdb!r}"
            )
        if self.sky_nside is not None and not (
                isinstance(self.sky_nside, int | np.integer)
                and hp.isnsideok(int(self.sky_nside), nest=True)):
            raise InputError(f"LinkingConfig.sky_nside must be None or a power of two; got "
                             f"{self.sky_nside!r}")
        for name, lowest in (("min_tracklets", 1), ("min_nights", 1), ("threads", 1),
                             ("max_splits", 0)):
            value = getattr(self, name)
            if name == "threads" and value is None:
                continue
            if not (isinstance(value, int | np.integer) and value >= lowest):
                raise InputError(
                    f"LinkingConfig.{name} must be an integer >= {lowest}; got {value!r}"
                )


@dataclass
class Candidates:
    """Candidate linkages of a HelioLinC3D search.

    Attributes
    ----------
    linkages : pandas.DataFrame
        One row per distinct set of detections, sorted by ``linkage_id`` (int64, the rank of
        the linkage's sorted ``diaSourceId`` list among all, so it depends only on the input,
        not on row order): ``n_tracklets``, ``n_detections``, ``n_nights``, ``arc_days``
        (last minus first detection time, days), ``r_au``, ``rdot_au_per_day`` and
        ``mean_accel`` of the first hypothesis (in the given order) that found it,
        ``n_hypotheses`` (how many found it), and under that hypothesis the mean heliocentric
        ICRF state of the cluster at the reference epoch ``epoch_mjd_tdb`` (TDB): ``x_au,
        y_au, z_au, vx_au_per_day, vy_au_per_day, vz_au_per_day`` — an initial orbit.
    members : pandas.DataFrame
        ``linkage_id, diaSourceId``, one row per membership, sorted by both.
    """

    linkages: pd.DataFrame
    members: pd.DataFrame


def neighbour_clusters(points: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Connected components of the graph joining points closer than their mean radius.

    Parameters
    ----------
    points : (n, d) float64, d ≥ 3
        Finite coordinates.
    radius : (n,) float64
        Positive radius of each point; i and j are neighbours when |pᵢ − pⱼ| ≤ (rᵢ + rⱼ)/2.

    Returns
    -------
    ndarray of int64, shape (n,)
        Component label of each point (labels numbered from 0 in order of first appearance).
    """
    labels = np.empty(points.shape[0], dtype=np.int64)
    cluster_points(np.ascontiguousarray(points, dtype=np.float64),
                   np.ascontiguousarray(radius, dtype=np.float64), labels)
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


def _check_inputs(tracklets: Tracklets, hypotheses: pd.DataFrame) -> None:
    # The columns only (the dtypes are make_tracklets'): a copy of a window's table would
    # double the search's memory.
    missing = [c for c in TRACKLET.required if c not in tracklets.tracklets.columns]
    if missing:
        raise InputError(
            f"tracklets table lacks columns {missing}; build it with linking.make_tracklets"
        )
    missing = [c for c in ("tracklet_id", "diaSourceId") if c not in tracklets.members.columns]
    if missing:
        raise InputError(f"tracklet members lack columns {missing}")
    missing = [c for c in HYPOTHESIS_COLUMNS if c not in hypotheses.columns]
    if missing:
        raise InputError(
            f"hypotheses lack columns {missing}; read them with linking.read_hypotheses"
        )
    values = hypotheses[list(HYPOTHESIS_COLUMNS)].to_numpy(np.float64)
    bad = ~np.isfinite(values).all(axis=1) | ~(values[:, 0] > 0)
    if bad.any():
        raise InputError(
            f"hypotheses must be finite with r_au > 0; bad rows (positions) "
            f"{np.flatnonzero(bad)[:10].tolist()}"
        )


def find_candidates(
    detections: pd.DataFrame,
    config: LinkingConfig | None = None,
    *,
    observatory_code: str | None = "X05",
    progress: Progress | None = None,
) -> Candidates:
    """Find candidate multi-night linkages in a table of detections.

    Builds the tracklets (:func:`linking.make_tracklets` with ``config.tracklets``), loads the
    hypotheses (``config.hypotheses``: a built-in grid or a file; where there are trail
    tracklets, also ``config.trail_hypotheses``) and searches them (:func:`search_tracklets`).

    Parameters
    ----------
    detections : pandas.DataFrame
        DiaSource-style table (``diaSourceId, midpointMjdTai, ra, dec``, optional columns and
        observer as :func:`linking.prepare_detections` describes).
    config : LinkingConfig, optional
        ``LinkingConfig()`` when omitted.
    observatory_code : str or None
        MPC code of the site for rows without ``observatoryCode`` or observer positions.
    progress : callable, optional
        Receives progress reports (:mod:`ephemerides.progress`): the hypotheses searched (stage
        ``"heliolinc"``). None: silent.

    Returns
    -------
    Candidates
        Distinct candidate linkages and their detections.
    """
    config = LinkingConfig() if config is None else config
    config.validate()
    tracklets = make_tracklets(detections, config.tracklets, observatory_code=observatory_code)
    return search_tracklets(tracklets, load_hypotheses(config.hypotheses), config,
                            trail_hypotheses=load_trail_hypotheses(tracklets, config),
                            progress=progress)


def load_trail_hypotheses(tracklets: Tracklets, config: LinkingConfig) -> pd.DataFrame | None:
    """``config.trail_hypotheses`` loaded (:func:`linking.load_hypotheses`) when the tracklets
    hold trail tracklets (``n_detections`` 1) and it is not None; else None (nothing to search
    with it: the ``close`` grid takes seconds to build)."""
    if config.trail_hypotheses is None or not (tracklets.tracklets["n_detections"] == 1).any():
        return None
    return load_hypotheses(config.trail_hypotheses)


def _inside_observer(hyp_rows: np.ndarray, dt_lo: float, dt_hi: float, max_obs: float):
    """Rows whose r(t) falls below ``max_obs`` somewhere in [t_ref + dt_lo, t_ref + dt_hi]."""
    r0, rdot, rddot = hyp_rows[:, 0], hyp_rows[:, 1], hyp_rows[:, 2]

    def r_at(dt):
        return r0 + rdot * dt + 0.5 * rddot * dt * dt

    lowest = np.minimum(r_at(dt_lo), r_at(dt_hi))
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = -rdot / rddot
    interior = (rddot > 0) & (vertex > dt_lo) & (vertex < dt_hi)
    lowest = np.where(interior, np.minimum(lowest, r_at(np.where(interior, vertex, 0.0))),
                      lowest)
    return lowest < max_obs


def search_tracklets(
    tracklets: Tracklets,
    hypotheses: pd.DataFrame,
    config: LinkingConfig | None = None,
    *,
    trail_hypotheses: pd.DataFrame | None = None,
    progress: Progress | None = None,
    executor=None,
) -> Candidates:
    """Search tracklets for multi-night linkages under each heliocentric hypothesis.

    Parameters
    ----------
    tracklets : Tracklets
        Output of :func:`linking.make_tracklets`.
    hypotheses : pandas.DataFrame
        ``r_au, rdot_au_per_day, mean_accel`` (see :func:`linking.read_hypotheses`,
        :func:`linking.hypothesis_grid`); the radial acceleration is r̈ = −mean_accel · GM☉ / r².
        ``config.hypotheses``, ``config.trail_hypotheses`` and ``config.tracklets`` are not
        used.
    config : LinkingConfig, optional
        Search settings; ``LinkingConfig()`` when omitted. The method is in this module's
        docstring.
    trail_hypotheses : pandas.DataFrame, optional
        More hypotheses (same columns), searched with the trail tracklets alone
        (``n_detections`` 1: single trailed detections, :mod:`linking.tracklets`); see
        :attr:`LinkingConfig.trail_hypotheses`. A candidate's hypothesis columns name the first
        hypothesis that found it, these counted after ``hypotheses``.
    progress : callable, optional
        Receives progress reports (:mod:`ephemerides.progress`): the hypotheses searched (stage
        ``"heliolinc"``; with an executor, when all are). None: silent.
    executor : object with ``map(func, units) -> list``, optional
        Where the hypotheses run: work units of about :data:`HYPOTHESES_PER_UNIT` hypotheses
        (every n-th), each searched in order on one thread, through ``executor.map`` (results
        in unit order; e.g. :func:`sso.executors.make_executor`). None: threads of this
        process (``config.threads``). The candidates are identical, whatever the executor and
        its workers.

    Returns
    -------
    Candidates
        Distinct candidate linkages and their detections.

    Raises
    ------
    ValueError
        When a column is missing, a hypothesis is not finite, or a setting is out of range.
    """
    config = LinkingConfig() if config is None else config
    config.validate()
    _check_inputs(tracklets, hypotheses)
    if trail_hypotheses is not None:
        _check_inputs(tracklets, trail_hypotheses)
    table = tracklets.tracklets
    if not table["tracklet_id"].is_monotonic_increasing:  # as make_tracklets sorts it
        table = table.sort_values("tracklet_id")
    if table["tracklet_id"].duplicated().any():
        raise InputError("tracklet_id must be unique in the tracklets table")
    n = len(table)
    if n == 0:
        return _empty_candidates()
    t_start = table["mjd_tai_start"].to_numpy(np.float64) + TT_MINUS_TAI_DAYS
    t_end = table["mjd_tai_end"].to_numpy(np.float64) + TT_MINUS_TAI_DAYS

    def vectors(prefix_ra, prefix_dec):
        return np.ascontiguousarray(unit_vectors(table[prefix_ra].to_numpy(np.float64),
                                                 table[prefix_dec].to_numpy(np.float64)))

    u_start = vectors("ra_start_deg", "dec_start_deg")
    u_end = vectors("ra_end_deg", "dec_end_deg")
    o_start = np.ascontiguousarray(
        table[["obs_start_x_au", "obs_start_y_au", "obs_start_z_au"]].to_numpy(np.float64))
    o_end = np.ascontiguousarray(
        table[["obs_end_x_au", "obs_end_y_au", "obs_end_z_au"]].to_numpy(np.float64))
    nights = table["night"].to_numpy(np.int64)
    rate_sigma = np.deg2rad(table["rate_err_deg_per_day"].to_numpy(np.float64))
    trail = table["n_detections"].to_numpy() == 1

    members = tracklets.members
    if not members["tracklet_id"].is_monotonic_increasing:  # as make_tracklets orders them
        members = members.sort_values("tracklet_id", kind="stable")
    member_ids = members["tracklet_id"].to_numpy(np.int64)
    ids = table["tracklet_id"].to_numpy(np.int64)
    member_rows = np.minimum(np.searchsorted(ids, member_ids), n - 1)
    if (ids[member_rows] != member_ids).any() or np.unique(member_rows).size != n:
        raise InputError(
            "tracklet members must name every tracklet, and only those in the tracklets table; "
            "pass the Tracklets that linking.make_tracklets returned unchanged"
        )
    detection_start = np.concatenate(([0], np.cumsum(np.bincount(member_rows, minlength=n))))
    del member_ids, ids, member_rows

    span = float(t_end.max() - t_start.min())
    t_ref = (0.5 * float(t_end.max() + t_start.min()) if config.reference_mjd_tdb is None
             else float(config.reference_mjd_tdb))
    tau = (config.velocity_timescale_days if config.velocity_timescale_days is not None
           else max(span, 1.0) / 4.0)
    max_obs = float(np.sqrt(max((o_start**2).sum(axis=1).max(), (o_end**2).sum(axis=1).max())))

    hyp = hypotheses[list(HYPOTHESIS_COLUMNS)].to_numpy(np.float64)
    n_main = len(hyp)
    if trail_hypotheses is not None and trail.any():
        hyp = np.concatenate((hyp, trail_hypotheses[list(HYPOTHESIS_COLUMNS)].to_numpy(
            np.float64)))
    hyp_rows = np.column_stack((hyp[:, 0], hyp[:, 1],
                                -hyp[:, 2] * GM_SUN_AU3_PER_DAY2 / hyp[:, 0] ** 2))
    inside = _inside_observer(hyp_rows, float(t_start.min()) - t_ref,
                              float(t_end.max()) - t_ref, max_obs)
    search = _Search(t_start, u_start, o_start, t_end, u_end, o_end, nights,
                     np.unique(nights, return_inverse=True)[1].astype(np.int64), rate_sigma, trail,
                     detection_start, members["diaSourceId"].to_numpy(np.int64), t_ref, tau,
                     config)

    # The searches of the hypotheses [0, n_main) and of the trail hypotheses after them.
    passes = [(search, np.arange(n_main))]
    if len(hyp) > n_main:
        passes.append((replace(search.rows(np.flatnonzero(trail)), trails_alone=True),
                       np.arange(n_main, len(hyp))))
    found: dict[tuple[int, ...], list] = {}
    n_hyp = len(hyp_rows)
    bar = stage(progress, "heliolinc", n_hyp, "hypotheses")
    if executor is not None or config.sky_nside is not None:
        # Strided units (per sky partition), cut here, not in a worker; their clusters are
        # merged in hypothesis order, as below, whatever the unit size and the workers.
        units = []
        for whole, indices in passes:
            n_units = -(-indices.size // HYPOTHESES_PER_UNIT)
            parts = ([whole] if config.sky_nside is None
                     else whole.sky_partitions(config.sky_nside))
            units += [(part, h, hyp_rows[h], inside[h]) for part in parts
                      for h in (indices[k::n_units] for k in range(n_units))]
        results = (executor.map(_search_unit, units) if executor is not None
                   else [_search_unit(unit) for unit in units])
        clusters = []
        for hyp_index, n_ids, ids, info in results:
            end = np.cumsum(n_ids).tolist()
            clusters += zip(hyp_index.tolist(), np.split(ids, end[:-1]) if end else [], info,
                            strict=True)
        # Stable: a hypothesis's clusters keep the order its search gave them.
        _merge(found, sorted(clusters, key=lambda cluster: cluster[0]))
        bar.update(n_hyp, f"{len(found)} linkages")
    else:
        checks = [(whole, whole.night_check()) for whole, _ in passes]

        def clusters(h):
            whole, night_check = checks[int(h >= n_main)]
            return _hypothesis_clusters(whole, night_check, hyp_rows[h], inside[h])

        threads = config.threads or (len(os.sched_getaffinity(0))
                                     if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for first in range(0, n_hyp, 4 * threads):
                batch = range(first, min(first + 4 * threads, n_hyp))
                for h, result in zip(batch, pool.map(clusters, batch), strict=True):
                    _merge(found, ((h, ids, info) for ids, info in result))
                bar.update(batch.stop, f"{len(found)} linkages")
    bar.close()
    return _assemble(found, hyp, t_ref, tau)


@dataclass(frozen=True)
class _Search:
    """What the search of one hypothesis needs, as flat contiguous arrays (a work unit pickles
    it once: ~150 bytes per tracklet).

    Tracklet i runs from ``t_start[i]`` (TDB) to ``t_end[i]``, seen along the unit vectors
    ``u_*`` from the heliocentric observer positions ``o_*`` (AU) on night ``nights[i]``
    (``night_index[i]`` in 0, 1, … ), its
    rate known to ``rate_sigma[i]`` (radians/day per coordinate), ``trail[i]`` when it is a
    single trailed detection (:mod:`linking.tracklets`); its
    detections are ``detection_ids[detection_start[i]: detection_start[i + 1]]``.
    ``core`` (a sky partition's): whether each tracklet lies in the partition's own pixel; a
    cluster (a component before its night-by-night splits) is kept only when its first
    tracklet does. ``trails_alone``: the search of the trail tracklets alone, where their
    radii are not capped.
    """

    t_start: np.ndarray
    u_start: np.ndarray
    o_start: np.ndarray
    t_end: np.ndarray
    u_end: np.ndarray
    o_end: np.ndarray
    nights: np.ndarray
    night_index: np.ndarray
    rate_sigma: np.ndarray
    trail: np.ndarray
    detection_start: np.ndarray
    detection_ids: np.ndarray
    t_ref: float
    tau: float
    config: LinkingConfig
    core: np.ndarray | None = None
    trails_alone: bool = False

    def night_check(self) -> "_NightCheck":
        return _NightCheck(self.nights, self.t_start, self.t_end, self.u_start, self.u_end,
                           np.deg2rad(self.config.same_night_tolerance_arcsec / 3600.0),
                           self.detection_start, self.detection_ids)

    def rows(self, rows: np.ndarray, core: np.ndarray | None = None) -> "_Search":
        """The search of the tracklets ``rows`` (indices, in order), with ``core`` flags."""
        start = self.detection_start
        counts = start[rows + 1] - start[rows]
        return replace(
            self, t_start=self.t_start[rows], u_start=self.u_start[rows],
            o_start=self.o_start[rows], t_end=self.t_end[rows], u_end=self.u_end[rows],
            o_end=self.o_end[rows], nights=self.nights[rows],
            night_index=self.night_index[rows], rate_sigma=self.rate_sigma[rows],
            trail=self.trail[rows], detection_start=np.concatenate(([0], np.cumsum(counts))),
            detection_ids=np.concatenate([self.detection_ids[start[r]: start[r + 1]]
                                          for r in rows] or [np.empty(0, np.int64)]),
            core=core)

    def sky_partitions(self, nside: int) -> list["_Search"]:
        """One search per HEALPix pixel (NESTED, ``nside``) in which a tracklet starts: the
        tracklets starting in it or its neighbours, in their order, the pixel's own as core."""
        pixel = hp.vec2pix(nside, *self.u_start.T, nest=True)
        parts = []
        for p in np.unique(pixel):
            around = hp.get_all_neighbours(nside, p, nest=True)
            rows = np.flatnonzero(np.isin(pixel, np.append(around[around >= 0], p)))
            parts.append(self.rows(rows, core=pixel[rows] == p))
        return parts


def _hypothesis_clusters(search: _Search, night_check: "_NightCheck", hyp_row: np.ndarray,
                         inside: bool) -> list:
    """Qualifying clusters of one hypothesis (``hyp_row``: r₀ AU, ṙ₀ AU/day, r̈ AU/day²; with
    ``inside`` also the near crossings): ``(detections, info)`` per cluster, as :func:`_split`
    appends them."""
    config = search.config
    n = search.t_start.size
    passes = 2 if inside else 1
    states = np.empty((passes * n, 6))
    dt = np.empty(passes * n)
    geodist = np.empty(passes * n)
    point_of = np.empty(passes * n, dtype=np.int64)
    count = project_hypothesis(
        search.t_start, search.u_start, search.o_start, search.t_end, search.u_end,
        search.o_end, np.ascontiguousarray(np.repeat(hyp_row[None], passes, axis=0)),
        np.arange(passes) == 1, search.t_ref, C_AU_PER_DAY, config.light_time,
        GM_SUN_AU3_PER_DAY2, config.cluster_radius_au_at_1au, config.min_radius_geodist_au,
        search.rate_sigma, config.max_v_inf_km_per_s / AU_KM * 86400.0, config.accel_tolerance,
        states, dt, geodist, point_of)
    states, tracklet_of = states[:count], point_of[:count] % n
    radius = np.empty(count)
    labels = np.empty(count, dtype=np.int64)
    trail = search.trail[tracklet_of]
    cluster_projected(states, dt[:count], geodist[:count],
                      np.ascontiguousarray(search.rate_sigma[tracklet_of]), GM_SUN_AU3_PER_DAY2,
                      search.tau, config.cluster_radius_au_at_1au, config.min_radius_geodist_au,
                      np.where(trail, config.trail_error_sigmas, config.velocity_error_sigmas),
                      np.where(trail & search.trails_alone, np.inf, config.max_radius_growth),
                      radius, labels)
    del dt, geodist, point_of
    out = []
    for rows, group, n_nights, arc in _qualifying(labels, tracklet_of, search):
        if search.core is not None and not search.core[group[0]]:
            continue  # a component of another sky partition
        _split(rows, group, n_nights, arc, tracklet_of, states, radius, night_check, search,
               1.0, out)
    return out


def _search_unit(unit: tuple) -> tuple:
    """One work unit of :func:`search_tracklets` on an executor.

    ``unit`` is ``(search, hyp_index, hyp_rows, inside)``: the hypotheses ``hyp_index`` (rows
    r₀, ṙ₀, r̈ and near-crossing flags), searched in order on this thread. Returns their
    clusters in that order as flat arrays ``(hypothesis index, detections per cluster,
    detections, info (k, 10))`` (what :func:`_merge` takes, once split per cluster).
    """
    search, indices, hyp_rows, inside = unit
    night_check = search.night_check()
    hyp_index, detections, info = [], [], []
    for k in range(len(hyp_rows)):
        for ids, values in _hypothesis_clusters(search, night_check, hyp_rows[k], inside[k]):
            hyp_index.append(indices[k])
            detections.append(ids)
            info.append(values)
    return (np.array(hyp_index, dtype=np.int64),
            np.array([ids.size for ids in detections], dtype=np.int64),
            np.concatenate(detections) if detections else np.empty(0, dtype=np.int64),
            np.array(info, dtype=np.float64).reshape(len(info), 10))


def _merge(found: dict, clusters) -> None:
    """Add ``(hypothesis, detections, info)`` clusters, in hypothesis order, to ``found`` (the
    first hypothesis that found a set of detections keeps its info; later ones count)."""
    for h, ids, info in clusters:
        key = tuple(ids.tolist())
        if key in found:
            found[key][-1] += 1
        else:
            found[key] = [*info, h, 1]


class _NightCheck:
    """Whether a set of tracklets can be one object night by night (see the module docstring),
    and its detections; remembered per set, as one object's set is found under many
    hypotheses."""

    def __init__(self, nights, t_start, t_end, u_start, u_end, tolerance_rad, detection_start,
                 detection_ids):
        self.nights = nights
        self.t_start = t_start
        self.t_end = t_end
        self.u_start = u_start
        self.u_end = u_end
        self.cos_tolerance = np.cos(tolerance_rad)
        self.detection_start = detection_start
        self.detection_ids = detection_ids
        self._verdicts: dict[bytes, np.ndarray | None] = {}

    def detections(self, group: np.ndarray) -> np.ndarray | None:
        """Sorted distinct detections of the tracklets ``group`` (sorted indices), or None when
        they fail the check."""
        key = group.tobytes()
        if key not in self._verdicts:
            start, ids = self.detection_start, self.detection_ids
            self._verdicts[key] = (
                np.unique(np.concatenate([ids[start[g]: start[g + 1]] for g in group]))
                if self.consistent(group) else None)
        return self._verdicts[key]

    def consistent(self, group: np.ndarray) -> bool:
        """True when every tracklet of ``group`` (indices, sorted) passes within the tolerance
        of the linear motion of the first tracklet of its night."""
        order = group[np.argsort(self.nights[group], kind="stable")]
        _, first_index = np.unique(self.nights[order], return_index=True)
        if first_index.size == order.size:
            return True  # one tracklet per night
        counts = np.diff(np.append(first_index, order.size))
        first = np.repeat(order[first_index], counts)
        velocity = ((self.u_end[first] - self.u_start[first])
                    / (self.t_end[first] - self.t_start[first])[:, None])
        predicted = (self.u_start[first]
                     + velocity * (self.t_start[order] - self.t_start[first])[:, None])
        cosine = (np.einsum("ij,ij->i", predicted, self.u_start[order])
                  / np.linalg.norm(predicted, axis=1))
        return bool((cosine >= self.cos_tolerance).all())


def _qualifying(labels: np.ndarray, tracklet_of: np.ndarray, search: _Search) -> list:
    """``(rows, group, n_nights, arc_days)`` of each component of ``labels`` (points
    ``tracklet_of`` tracklets) with enough tracklets, nights and arc, in label order."""
    config = search.config
    rows, row_offsets, groups, group_offsets, n_nights, arc = qualifying_components(
        labels, tracklet_of, search.night_index, search.t_start, search.t_end,
        config.min_tracklets, config.min_nights, config.min_arc_days)
    return [(rows[row_offsets[k]: row_offsets[k + 1]],
             groups[group_offsets[k]: group_offsets[k + 1]], int(n_nights[k]), float(arc[k]))
            for k in range(n_nights.size)]


def _split(rows, group, n_nights, arc, tracklet_of, states, radius, night_check, search, scale,
           out):
    """Append to ``out`` the candidate linkages of one qualifying component (rows of the
    points, their distinct tracklets ``group``), found with the radii ``radius · scale``.

    A component that passes the night check is one candidate ``(detections, (n_tracklets,
    n_detections, n_nights, arc_days, *mean point))``, the detections a sorted int64 array; one
    that fails it is re-clustered with half the radii, at most ``config.max_splits`` times.
    """
    ids = night_check.detections(group)
    if ids is None:
        if scale <= 0.5**search.config.max_splits:
            return
        labels = np.empty(rows.size, dtype=np.int64)
        part_radius = 0.5 * scale * radius[rows]
        # Cells of the typical radius: a few grown radii reach over more cells, rather than
        # making every point of a dense component compare with a large neighbourhood.
        cluster_points(np.ascontiguousarray(states[rows]), part_radius, labels,
                       float(np.median(part_radius)))
        for part, part_group, part_nights, part_arc in _qualifying(labels, tracklet_of[rows],
                                                                   search):
            _split(rows[part], part_group, part_nights, part_arc, tracklet_of, states, radius,
                   night_check, search, 0.5 * scale, out)
        return
    out.append((ids, (group.size, ids.size, n_nights, arc, *states[rows].mean(axis=0))))


STATE_COLUMNS = ("x_au", "y_au", "z_au", "vx_au_per_day", "vy_au_per_day", "vz_au_per_day")


def _empty_candidates() -> Candidates:
    return _assemble({}, np.empty((0, 3)), np.nan, 1.0)


def _assemble(found: dict, hyp: np.ndarray, t_ref: float, tau: float) -> Candidates:
    """Tables from the distinct member sets, with ids ranked by the sorted member lists.

    ``found`` maps each member tuple to ``[n_tracklets, n_detections, n_nights, arc_days,
    x, y, z, τvx, τvy, τvz, first hypothesis, hypotheses that found it]``.
    """
    keys = sorted(found)
    info = np.array([found[k] for k in keys], dtype=np.float64).reshape(len(keys), 12)
    ids = np.arange(len(keys), dtype=np.int64)
    first_hyp = info[:, 10].astype(np.int64)
    state = info[:, 4:10] / np.array([1.0, 1.0, 1.0, tau, tau, tau])
    linkages = pd.DataFrame({
        "linkage_id": ids,
        "n_tracklets": info[:, 0].astype(np.int64),
        "n_detections": info[:, 1].astype(np.int64),
        "n_nights": info[:, 2].astype(np.int64),
        "arc_days": info[:, 3],
        "r_au": hyp[first_hyp, 0],
        "rdot_au_per_day": hyp[first_hyp, 1],
        "mean_accel": hyp[first_hyp, 2],
        "n_hypotheses": info[:, 11].astype(np.int64),
        "epoch_mjd_tdb": np.full(len(keys), t_ref),
        **{name: state[:, k] for k, name in enumerate(STATE_COLUMNS)},
    })
    lengths = np.array([len(k) for k in keys], dtype=np.int64)
    members = pd.DataFrame({
        "linkage_id": np.repeat(ids, lengths),
        "diaSourceId": np.fromiter((d for k in keys for d in k), dtype=np.int64,
                                   count=int(lengths.sum())),
    })
    return Candidates(linkages, members)
