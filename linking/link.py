"""The linking pipeline: tracklets → HelioLinC3D candidates → orbit fits → purified linkages.

Purification
------------
Candidates overlap (one object is found under many hypotheses, with and without noise or a
neighbour's tracklets). They are taken in order of merit — most nights, then most detections,
then the longest arc (ties by ``linkage_id``, so the result does not depend on row order) —
and each is fitted on its detections not yet claimed by an accepted linkage, provided at least
``fit.min_detections`` on ``fit.min_nights`` nights remain:

1. a 2-body fit with outlier rejection (:func:`linking.orbitfit.fit_orbit`) from the
   candidate's cluster state; when it fails, ends outside the limits (a cluster state can lead
   the fit into a false minimum that Gauss's method avoids) or converges to an unbound orbit,
   Gauss's initial orbits (:func:`linking.iod.initial_orbits`) are fitted too and the best
   is kept — bound before unbound (a short arc admits spurious hyperbolas), then most
   detections kept, then the lowest chi²;
2. the N-body fit of the kept detections from that solution (the final orbit).

Near the Earth (within ``NEAR_EARTH_AU`` of the observer) a close passage bends an orbit off any
2-body fit within days: a candidate there that this leaves without all its detections is also
fitted with N-body motion, with outlier rejection, from each 2-body solution, and the linkage
that keeps the most detections is taken.

A trailed detection is fitted as its trail's two ends, in the sense of motion the candidate's
state predicts there; a candidate that this leaves without all its detections is fitted once
more with each trail in the sense of the 2-body fit it reached, when that turns any (a
cluster's mean state can give a short trail the wrong sense, while the positions of the other
nights pull the fit the right way).

A linkage whose fits both end ``"ok"`` is accepted and claims the detections it kept, so no
detection belongs to two linkages — unless its orbit is unbound (beyond the search's
``max_v_inf_km_per_s``) by more than ``UNBOUND_SIGMAS`` σ of its energy: two nights of one
object and a short tracklet of another fit a hyperbola within the astrometry, far from bound,
while a true object whose short arc fits a hyperbola is within a σ of a bound orbit.

Merging
-------
A later candidate of an object may still hold enough unclaimed detections (other nights) to
become a second linkage. Pairs of linkages are therefore screened — each linkage's orbit is
predicted at one time per night, and a pair qualifies when one's prediction falls within
``MERGE_SCREEN_ARCSEC`` of the other's on a night the other was seen — and a qualifying pair is
fitted as one (2-body from the orbit that predicts all their detections best, which must be
within the screen; then N-body). It becomes one linkage when the joint fit keeps every detection
within ``max_rms_arcsec`` and ``outlier_sigma``; repeated until nothing merges.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from ephemerides.constants import AU_KM, GM_SUN_AU3_PER_DAY2
from ephemerides.elements import cartesian_to_keplerian, equatorial_to_ecliptic
from ephemerides.orbits import DEFAULT_G
from ephemerides.photometry import BAND_MINUS_V, ab_magnitude, hg_apparent_magnitude
from ephemerides.progress import Progress, stage
from ephemerides.sky import chord_length, unit_vectors
from ephemerides.twobody import kepler_step
from linking.detections import (
    astrometric_sigma_arcsec,
    prepare_detections,
    trail_ends,
    usable_trails,
)
from linking.heliolinc import STATE_COLUMNS, LinkingConfig, find_candidates
from linking.iod import initial_orbits
from linking.orbitfit import (
    TT_MINUS_TAI_DAYS,
    Observations,
    OrbitFit,
    differential_correction,
    fit_orbit,
    predict_radec,
    residuals,
)

# Two linkages are tried as one object when one's orbit predicts the other's detections within
# this (a 3-night orbit extrapolated a week errs by arcseconds to tens of arcseconds; another
# object is that close to a given one in 0.1 % of cases at 100 per deg²); the joint fit decides.
MERGE_SCREEN_ARCSEC = 60.0
# Convergence of the fits (``fit_orbit``'s tolerance): the candidates' 2-body fits only choose
# the detections and the start of the N-body fit, and stop when a step would move the state by
# a hundredth of its uncertainty; the N-body fits of the linkages stop at a thousandth. Against
# 1e-8 for both, the fits of bench_linking's quadrature field (1,280 linkages) take 16.5 s
# instead of 21.5 s and end with as many pure linkages (1,281).
SCREENING_TOLERANCE = 1e-4
LINKAGE_TOLERANCE = 1e-6
# A linkage whose orbit is unbound (beyond the search's max_v_inf) by more than this many σ of
# its energy is rejected. On bench_linking's quadrature field the pure linkages whose fits end
# hyperbolic (short arcs) are within 1 σ of bound, while the mixed ones (two nights of one
# object and a short tracklet of another) are 58-3,800 σ beyond.
UNBOUND_SIGMAS = 3.0
# A candidate (or a pair of linkages to merge) within this distance of the observer that the
# 2-body fits leave without all its detections is fitted with N-body motion from its 2-body
# solutions: at 0.2 AU the Earth's pull moves an object ~1″ on the sky in a week, more than a
# fit's max_rms_arcsec.
NEAR_EARTH_AU = 0.2
# Osculating elements of the fitted states, heliocentric ecliptic J2000 as the MPC gives them.
ELEMENT_COLUMNS = ("a_au", "e", "inc_deg", "node_deg", "argperi_deg", "mean_anomaly_deg")


@dataclass
class LinkResult:
    """Purified linkages with fitted orbits.

    Attributes
    ----------
    linkages : pandas.DataFrame
        One row per linkage, by ``linkage_id`` (0, 1, … in order of acceptance):
        ``n_detections``, ``n_nights``, ``arc_days``, ``rms_arcsec``, ``chi2``, the fitted
        heliocentric ICRF state ``x_au … vz_au_per_day`` at ``epoch_mjd_tdb`` (TDB), its
        osculating elements (heliocentric ecliptic J2000: ``a_au, e, inc_deg, node_deg,
        argperi_deg, mean_anomaly_deg``; a < 0 for a hyperbola), ``covariance`` (the 36
        entries of the state's 6×6 covariance, row-major, AU and days), ``candidate_id`` (the
        HelioLinC3D candidate it came from), ``H`` (absolute magnitude for G = 0.15: the
        median over the detections of V − 5 log10(rΔ) + the phase term at the fitted orbit,
        V from ``mag`` or ``psfFlux`` (AB, nJy) minus the mean asteroid colour of the LSST
        ``band``; NaN without photometry).
    members : pandas.DataFrame
        ``linkage_id, diaSourceId, residual_ra_arcsec, residual_dec_arcsec`` (Δα cos δ and Δδ,
        observed minus computed), sorted by both ids.
    unlinked : pandas.DataFrame
        The input detections (prepared: with observer positions and ``night``) that belong to no
        linkage.
    """

    linkages: pd.DataFrame
    members: pd.DataFrame
    unlinked: pd.DataFrame


def link(
    detections: pd.DataFrame,
    config: LinkingConfig | None = None,
    *,
    observatory_code: str | None = "X05",
    progress: Progress | None = None,
) -> LinkResult:
    """Link detections into new objects with orbits (method in this module's docstring).

    Parameters
    ----------
    detections : pandas.DataFrame
        DiaSource-style table (see :func:`linking.prepare_detections`).
    config : LinkingConfig, optional
        Tracklets, hypotheses, clustering and ``fit`` settings; ``LinkingConfig()`` if omitted.
    observatory_code : str or None
        MPC code of the site for rows without ``observatoryCode`` or observer positions.
    progress : callable, optional
        Receives progress reports (:mod:`ephemerides.progress`) of the search (stage
        ``"heliolinc"``) and the fits (``"orbit fits"``). None: silent.

    Returns
    -------
    LinkResult
    """
    config = LinkingConfig() if config is None else config
    config.validate()
    frame = prepare_detections(detections, observatory_code=observatory_code)
    candidates = find_candidates(frame, config, observatory_code=observatory_code,
                                 progress=progress)
    return purify(frame, candidates, config, progress=progress)


def purify(frame: pd.DataFrame, candidates, config: LinkingConfig,
           progress: Progress | None = None) -> LinkResult:
    """Fit, select and merge candidate linkages so that no detection is in two (module docstring).

    Parameters
    ----------
    frame : pandas.DataFrame
        Detections as :func:`linking.prepare_detections` returns them.
    candidates : Candidates
        Output of :func:`linking.find_candidates` / :func:`linking.search_tracklets` on them.
    config : LinkingConfig
        Its ``fit`` settings are used.
    progress : callable, optional
        Receives progress reports (:mod:`ephemerides.progress`): the candidates fitted (stage
        ``"orbit fits"``). None: silent.
    """
    fit_config = config.fit
    max_v_inf = config.max_v_inf_km_per_s / AU_KM * 86400.0
    everything, detection_of = _observations(frame, config)
    v_mag = _v_magnitudes(frame)[detection_of]
    # The observations of each detection: one, or a trail's two ends.
    first_obs = np.searchsorted(detection_of, np.arange(len(frame)))
    n_obs = np.bincount(detection_of, minlength=len(frame))
    any_trail = len(detection_of) > len(frame)
    row_of = pd.Series(np.arange(len(frame)), index=frame["diaSourceId"].to_numpy())
    table = candidates.linkages.sort_values(
        ["n_nights", "n_detections", "arc_days", "linkage_id"],
        ascending=[False, False, False, True]).reset_index(drop=True)
    members = candidates.members.groupby("linkage_id")["diaSourceId"].apply(np.asarray)
    claimed = np.zeros(len(frame), dtype=bool)
    accepted = []
    bar = stage(progress, "orbit fits", len(table), "candidates")
    for k, candidate in enumerate(table.itertuples(index=False)):
        detections = np.sort(row_of.loc[members[candidate.linkage_id]].to_numpy())
        detections = detections[~claimed[detections]]
        rows = first_obs[detections]
        if any_trail and (n_obs[detections] == 2).any():
            rows = np.sort(np.concatenate([rows, rows[n_obs[detections] == 2] + 1]))
        if _enough(rows, everything.nights, fit_config):
            state0 = np.array([getattr(candidate, name) for name in STATE_COLUMNS])
            trails = first_obs[detections[n_obs[detections] == 2]]
            found = _fit_oriented(everything, rows, trails, state0, candidate.epoch_mjd_tdb,
                                  fit_config, max_v_inf)
            if found is not None:
                claimed[detection_of[found.rows]] = True
                found.candidate_id = candidate.linkage_id
                accepted.append(found)
        if k % 100 == 99 or k == len(table) - 1:
            bar.update(k + 1, f"{len(accepted)} linkages")
    bar.close()
    accepted = _merge(accepted, everything, fit_config, max_v_inf)
    claimed[:] = False
    for found in accepted:
        claimed[detection_of[found.rows]] = True
    table = _linkage_table(accepted, everything, detection_of)
    table["H"] = [_absolute_magnitude(everything, found, v_mag) for found in accepted]
    return LinkResult(table, _member_table(accepted, frame["diaSourceId"].to_numpy(),
                                           detection_of),
                      frame[~claimed].reset_index(drop=True))


def _fit_oriented(everything: Observations, rows, trails, state0, epoch, config,
                  max_v_inf: float) -> "_Linkage | None":
    """:func:`_fit` of a candidate whose trails' end observations begin at ``trails``, each
    trail given the sense of motion of the candidate's state; where that leaves detections
    out, the sense of the 2-body fit it reached, and fitted again if that turns a trail. A
    cluster's state (a mean over tracklets of both senses under a coarse hypothesis) can give
    a short trail the wrong sense, which no fit then absorbs, while the fit to the positions of
    the other nights runs the right way (bench_trails: 2 of 20 NEOs missed so)."""
    if trails.size:
        _orient_trails(everything, trails, state0, epoch)
    found, screening = _fit(everything, rows, state0, epoch, config, max_v_inf)
    if (not trails.size or (found is not None and found.rows.size == rows.size)
            or not np.isfinite(screening.state).all()
            or not _orient_trails(everything, trails, screening.state,
                                  screening.epoch_mjd_tdb)):
        return found
    again, _ = _fit(everything, rows, state0, epoch, config, max_v_inf)
    if again is not None and (found is None or again.rows.size > found.rows.size):
        return again
    _orient_trails(everything, trails, state0, epoch)  # back to the senses ``found`` used
    return found


def _orient_trails(everything: Observations, starts: np.ndarray, state, epoch: float) -> bool:
    """Give each trail whose end observations begin at ``starts`` (the exposure's start, then
    its end) the sense of motion that the orbit ``state`` at ``epoch`` predicts there: the two
    ends' positions are swapped where the prediction runs the other way (a trail has no
    head; a linkage once accepted keeps the sense its fit found). Whether any was swapped."""
    pairs = np.stack([starts, starts + 1], axis=1)
    predicted = predict_radec(np.asarray(state, np.float64)[None], epoch,
                              everything.subset(pairs.ravel()))[0].reshape(-1, 2, 2)

    def direction(ra, dec):
        u = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], -1)
        return u[:, 1] - u[:, 0]

    observed = direction(everything.ra[pairs], everything.dec[pairs])
    flip = np.einsum("ij,ij->i", direction(predicted[..., 0], predicted[..., 1]), observed) < 0
    for name in ("ra", "dec"):
        values = getattr(everything, name)
        values[pairs[flip]] = values[pairs[flip][:, ::-1]]
    return bool(flip.any())


def _observations(frame: pd.DataFrame, config: LinkingConfig):
    """The observations the fits use, in the frame's order, and the frame row of each: one per
    detection at its midpoint; two for a detection whose trail makes trail tracklets
    (:mod:`linking.tracklets`) — the trail's ends at the exposure's start and end, with the
    observer there (:func:`linking.detections.trail_ends`) — so that a night seen once by a
    trail counts two observations and gives the fit its motion."""
    n = len(frame)
    sigma = astrometric_sigma_arcsec(frame, config.fit.default_sigma_arcsec)
    t = frame["midpointMjdTai"].to_numpy(np.float64)
    ra, dec = frame["ra"].to_numpy(np.float64), frame["dec"].to_numpy(np.float64)
    observer = frame[["observer_x_au", "observer_y_au", "observer_z_au"]].to_numpy(np.float64)
    nights = frame["night"].to_numpy(np.int64)
    trailed = (usable_trails(frame, config.tracklets.min_trail_sigma)
               if config.tracklets.trail_tracklets else np.zeros(n, dtype=bool))
    if not trailed.any():
        return Observations(t, ra, dec, sigma, observer, nights), np.arange(n)
    rows = np.flatnonzero(trailed)
    times, ends, observers, end_sigma = trail_ends(frame, rows, config.fit.default_sigma_arcsec)
    detection_of = np.repeat(np.arange(n), np.where(trailed, 2, 1))
    first = np.searchsorted(detection_of, np.arange(n))
    t_all, ra_all = t[detection_of].copy(), ra[detection_of].copy()
    dec_all, sigma_all = dec[detection_of].copy(), sigma[detection_of].copy()
    observer_all = observer[detection_of].copy()
    end_ra = np.rad2deg(np.arctan2(ends[..., 1], ends[..., 0])) % 360.0
    end_dec = np.rad2deg(np.arcsin(np.clip(ends[..., 2], -1.0, 1.0)))
    for side in (0, 1):
        at = first[rows] + side
        t_all[at], ra_all[at], dec_all[at] = times[:, side], end_ra[:, side], end_dec[:, side]
        observer_all[at] = observers[:, side]
        sigma_all[at] = end_sigma
    return (Observations(t_all, ra_all, dec_all, sigma_all, observer_all,
                         nights[detection_of]), detection_of)


@dataclass
class _Linkage:
    """An accepted linkage: its detections (rows of the frame), final fit and origin."""

    rows: np.ndarray
    fit: OrbitFit
    candidate_id: int = -1


def _enough(rows, nights, config) -> bool:
    return rows.size >= config.min_detections and np.unique(nights[rows]).size >= config.min_nights


def _fit(everything: Observations, rows, state0, epoch, config,
         max_v_inf: float) -> "tuple[_Linkage | None, OrbitFit]":
    """2-body fit with outlier rejection from the cluster state, or from Gauss's initial orbits
    when that fails, ends outside the limits or unbound; then the N-body fit of the kept
    detections. None unless both end "ok" (converged to ``SCREENING_TOLERANCE``, then
    ``LINKAGE_TOLERANCE``) and the orbit is not unbound beyond ``max_v_inf`` (AU/day) by more
    than ``UNBOUND_SIGMAS``. Also the first 2-body fit, whatever its status.

    A candidate near the Earth (:func:`_near_earth`) that this leaves without a linkage of all
    its detections, though a 2-body fit ended "ok", is fitted again with N-body motion from each
    2-body solution, with outlier rejection, and the linkage that keeps the most detections
    wins: a close passage bends the orbit within days, so a 2-body fit rejects good detections
    or starts the N-body fit of the kept ones in a false minimum.
    """
    part = everything.subset(rows)
    first = fit_orbit(part, state0, epoch, config, tolerance=SCREENING_TOLERANCE)
    trials = [first]
    if first.status != "ok" or _unbound(first.state):
        trials += [fit_orbit(part, state, t, config, tolerance=SCREENING_TOLERANCE)
                   for t, state in initial_orbits(part)]
    trials = _ranked(trials)
    found = _final_fit(everything, rows, trials[:1], config, max_v_inf, None)
    if (trials and (found is None or found.rows.size < rows.size)
            and _near_earth(part, state0, epoch)):
        nbody = [fit_orbit(part, t.state, t.epoch_mjd_tdb, config, method="nbody",
                           tolerance=SCREENING_TOLERANCE) for t in trials]
        found = _final_fit(everything, rows, _ranked(nbody), config, max_v_inf, found)
    return found, first


def _ranked(trials: list) -> list:
    """The fits that ended "ok": bound orbits first (a short arc admits spurious hyperbolas),
    then most detections kept, then the best chi²."""
    return sorted((t for t in trials if t.status == "ok"),
                  key=lambda t: (_unbound(t.state), -int(t.used.sum()), t.chi2))


def _final_fit(everything: Observations, rows, trials: list, config, max_v_inf: float,
               best: "_Linkage | None") -> "_Linkage | None":
    """N-body fits of the detections each trial kept, in order, of those trials that keep
    more than ``best`` (None: any) does; the linkage of the fit that ends "ok", bound, with the
    most detections, or ``best``."""
    for fit in trials:
        kept = rows[fit.used]
        if best is not None and kept.size <= best.rows.size:
            continue
        final = fit_orbit(everything.subset(kept), fit.state, fit.epoch_mjd_tdb, config,
                          method="nbody", tolerance=LINKAGE_TOLERANCE)
        if final.status == "ok" and _energy_excess_sigmas(final, max_v_inf) <= UNBOUND_SIGMAS:
            best = _Linkage(kept[final.used], _kept(final))
    return best


def _near_earth(part: Observations, state, epoch: float) -> bool:
    """Whether a candidate's state is within ``NEAR_EARTH_AU`` of the observer at the
    observation nearest its epoch (2-body there)."""
    k = int(np.argmin(np.abs(part.t_tdb - epoch)))
    at = kepler_step(np.asarray(state, np.float64)[None], np.array([part.t_tdb[k] - epoch]))[0]
    return bool(np.linalg.norm(at[:3] - (part.observer[k, :3] - part.sun[k, :3]))
                < NEAR_EARTH_AU)


def _energy_excess_sigmas(fit: OrbitFit, max_v_inf: float) -> float:
    """How many σ (from the fit's covariance, linearised) the orbit's 2-body energy
    ½v² − GM/r exceeds ½ ``max_v_inf``² (AU/day); negative when below."""
    state = fit.state
    r = np.linalg.norm(state[:3])
    excess = 0.5 * state[3:] @ state[3:] - GM_SUN_AU3_PER_DAY2 / r - 0.5 * max_v_inf**2
    gradient = np.concatenate((GM_SUN_AU3_PER_DAY2 * state[:3] / r**3, state[3:]))
    variance = gradient @ np.asarray(fit.covariance).reshape(6, 6) @ gradient
    if not variance > 0.0:
        return np.inf if excess > 0.0 else -np.inf
    return float(excess / np.sqrt(variance))


def _unbound(state) -> bool:
    """Whether a heliocentric state has positive 2-body energy."""
    r = np.linalg.norm(state[:3])
    return bool(0.5 * state[3:] @ state[3:] - GM_SUN_AU3_PER_DAY2 / r >= 0.0)


def _kept(fit: OrbitFit) -> OrbitFit:
    """``fit`` restricted to its kept detections."""
    used = fit.used
    return OrbitFit(fit.epoch_mjd_tdb, fit.state, fit.covariance, fit.residual_ra_arcsec[used],
                    fit.residual_dec_arcsec[used], used[used], fit.rms_arcsec, fit.chi2,
                    fit.status)


def _merge(linkages: list, everything: Observations, config, max_v_inf: float) -> list:
    """Merge linkages of one object (module docstring). Repeated until nothing merges."""
    while len(linkages) > 1:
        pairs = _merge_pairs(linkages, everything)
        gone = np.zeros(len(linkages), dtype=bool)
        for i, j in pairs:
            if gone[i] or gone[j]:
                continue
            merged = _joint_fit(everything, linkages[i], linkages[j], config, max_v_inf)
            if merged is not None:
                linkages[min(i, j)] = merged
                gone[max(i, j)] = True
        if not gone.any():
            break
        linkages = [found for found, dead in zip(linkages, gone, strict=True) if not dead]
    return linkages


def _merge_pairs(linkages: list, everything: Observations) -> np.ndarray:
    """Pairs (i < j) of linkages that may be one object, in a deterministic order: on a night
    when one of them has detections, the other's orbit predicts it within
    ``MERGE_SCREEN_ARCSEC`` (each orbit is predicted at one time per night, that of the
    detection nearest the night's middle, with that detection's observer)."""
    nights = np.unique(everything.nights)
    middle = np.empty(nights.size, dtype=np.int64)
    for k, night in enumerate(nights):
        rows = np.flatnonzero(everything.nights == night)
        t = everything.t_tdb[rows]
        middle[k] = rows[np.argmin(np.abs(t - 0.5 * (t.min() + t.max())))]
    at = everything.subset(middle)
    epoch = float(np.median(at.t_tdb))
    states = kepler_step(np.array([found.fit.state for found in linkages]),
                         epoch - np.array([found.fit.epoch_mjd_tdb for found in linkages]))
    radec = predict_radec(states, epoch, at)  # (linkages, nights, 2)
    xyz = unit_vectors(np.degrees(radec[..., 0]), np.degrees(radec[..., 1]))
    radius = float(chord_length(MERGE_SCREEN_ARCSEC / 3600.0))
    found = []
    for k, night in enumerate(nights):
        seen = np.array([np.any(everything.nights[f.rows] == night) for f in linkages])
        points = xyz[:, k]
        finite = np.flatnonzero(np.isfinite(points).all(axis=1))
        if finite.size < 2 or not seen.any():
            continue
        tree = cKDTree(points[finite])
        queries = np.flatnonzero(seen & np.isfinite(points).all(axis=1))
        for b, near in zip(queries, tree.query_ball_point(points[queries], radius),
                           strict=True):
            for a in finite[near]:
                if a != b:
                    found.append((min(a, b), max(a, b)))
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    return np.unique(np.array(found, dtype=np.int64), axis=0)


def _joint_fit(everything: Observations, one: _Linkage, other: _Linkage, config,
               max_v_inf: float):
    """The two linkages as one, or None: the orbit of one of them must predict all their
    detections within ``MERGE_SCREEN_ARCSEC``, and the joint fit from it (2-body, then N-body;
    near the Earth the N-body fit from that orbit where the 2-body one fails) must keep every
    detection within the fit's limits, its orbit bound as :func:`_fit`'s."""
    rows = np.union1d(one.rows, other.rows)
    part = everything.subset(rows)
    offset, start = min((np.nan_to_num(np.abs(residuals(f.fit.state, f.fit.epoch_mjd_tdb, part)),
                                       nan=np.inf).max(), k) for k, f in enumerate((one, other)))
    if not offset <= MERGE_SCREEN_ARCSEC:
        return None
    start = (one, other)[start]
    epoch = start.fit.epoch_mjd_tdb
    used = np.ones(rows.size, dtype=bool)
    state, _, res, _ = differential_correction(start.fit.state, epoch, part, used,
                                               config.max_iterations,
                                               tolerance=SCREENING_TOLERANCE)
    if not (np.sqrt(np.mean(res**2)) <= config.max_rms_arcsec
            and (np.hypot(res[:, 0], res[:, 1]) / part.sigma).max() <= config.outlier_sigma):
        if not _near_earth(part, start.fit.state, epoch):
            return None
        state = start.fit.state  # as in _fit: near the Earth only N-body motion holds both
    fit = fit_orbit(part, state, epoch, config, method="nbody", tolerance=LINKAGE_TOLERANCE)
    if (fit.status != "ok" or not fit.used.all()
            or _energy_excess_sigmas(fit, max_v_inf) > UNBOUND_SIGMAS):
        return None
    return _Linkage(rows, fit, min(one.candidate_id, other.candidate_id))


def _v_magnitudes(frame: pd.DataFrame) -> np.ndarray:
    """V magnitude of each detection: ``mag`` (or the AB magnitude of a positive ``psfFlux``,
    nJy) minus the mean asteroid colour of its LSST ``band``; NaN where either is missing."""
    if "mag" in frame.columns:
        mag = frame["mag"].to_numpy(np.float64)
    elif "psfFlux" in frame.columns:
        mag = ab_magnitude(frame["psfFlux"].to_numpy(np.float64))
    else:
        return np.full(len(frame), np.nan)
    if "band" not in frame.columns:
        return np.full(len(frame), np.nan)
    colour = frame["band"].map(BAND_MINUS_V).to_numpy(np.float64, na_value=np.nan)
    return mag - colour


def _absolute_magnitude(everything: Observations, found: "_Linkage", v_mag) -> float:
    """H (G = 0.15) of a linkage: the median over its detections of V minus the H, G magnitude
    of H = 0 at the fitted orbit's distances and phase angle; NaN without photometry."""
    rows = found.rows[np.isfinite(v_mag[found.rows])]
    if rows.size == 0:
        return float("nan")
    obs = everything.subset(rows)
    dt = obs.t_tdb - found.fit.epoch_mjd_tdb
    body = kepler_step(np.repeat(found.fit.state[None], rows.size, axis=0), dt)[:, :3]
    seen = body - (obs.observer[:, :3] - obs.sun[:, :3])
    r, delta = np.linalg.norm(body, axis=1), np.linalg.norm(seen, axis=1)
    phase = np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", body, seen) / (r * delta),
                                         -1.0, 1.0)))
    return float(np.median(v_mag[rows] - hg_apparent_magnitude(0.0, DEFAULT_G, r, delta, phase)))


def _linkage_table(accepted: list, everything: Observations,
                   detection_of: np.ndarray) -> pd.DataFrame:
    states = np.array([a.fit.state for a in accepted]).reshape(-1, 6)
    ecliptic = equatorial_to_ecliptic(states.reshape(-1, 3)).reshape(-1, 6) if accepted \
        else states
    elements = (cartesian_to_keplerian(ecliptic, GM_SUN_AU3_PER_DAY2) if accepted
                else np.empty((0, 6)))
    t_tai = everything.t_tdb - TT_MINUS_TAI_DAYS
    return pd.DataFrame({
        "linkage_id": np.arange(len(accepted), dtype=np.int64),
        "n_detections": np.array([np.unique(detection_of[a.rows]).size for a in accepted],
                                 dtype=np.int64),
        "n_nights": np.array([np.unique(everything.nights[a.rows]).size for a in accepted],
                             dtype=np.int64),
        "arc_days": np.array([np.ptp(t_tai[a.rows]) for a in accepted], dtype=np.float64),
        "rms_arcsec": np.array([a.fit.rms_arcsec for a in accepted], dtype=np.float64),
        "chi2": np.array([a.fit.chi2 for a in accepted], dtype=np.float64),
        "epoch_mjd_tdb": np.array([a.fit.epoch_mjd_tdb for a in accepted], dtype=np.float64),
        **{name: states[:, k] for k, name in enumerate(STATE_COLUMNS)},
        **{name: elements[:, k] for k, name in enumerate(ELEMENT_COLUMNS)},
        "covariance": [a.fit.covariance.ravel() for a in accepted],
        "candidate_id": np.array([a.candidate_id for a in accepted], dtype=np.int64),
    })


def _member_table(accepted: list, ids: np.ndarray, detection_of: np.ndarray) -> pd.DataFrame:
    """One row per detection of each linkage (a trail's two ends: their mean residual)."""
    if not accepted:
        return pd.DataFrame({"linkage_id": np.empty(0, np.int64),
                             "diaSourceId": np.empty(0, ids.dtype),
                             "residual_ra_arcsec": np.empty(0),
                             "residual_dec_arcsec": np.empty(0)})
    rows = pd.DataFrame({
        "linkage_id": np.repeat(np.arange(len(accepted), dtype=np.int64),
                                [a.rows.size for a in accepted]),
        "diaSourceId": np.concatenate([ids[detection_of[a.rows]] for a in accepted]),
        "residual_ra_arcsec": np.concatenate([a.fit.residual_ra_arcsec for a in accepted]),
        "residual_dec_arcsec": np.concatenate([a.fit.residual_dec_arcsec for a in accepted]),
    })
    return rows.groupby(["linkage_id", "diaSourceId"], as_index=False, sort=True).mean()
