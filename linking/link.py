"""The linking pipeline: tracklets → HelioLinC3D candidates → orbit fits → purified linkages.

Purification
------------
Candidates overlap (one object is found under many hypotheses, with and without noise or a
neighbour's tracklets). They are taken in order of merit — most nights, then most detections,
then the longest arc (ties by ``linkage_id``, so the result does not depend on row order) —
and each is fitted (:func:`linking.orbitfit.fit_orbit`, from the candidate's cluster state)
on its detections not yet claimed by an accepted linkage, provided at least
``fit.min_detections`` on ``fit.min_nights`` nights remain. A fit with status ``"ok"`` is
accepted and claims the detections it kept; so no detection belongs to two linkages, and a
later candidate of the same object either lacks enough unclaimed detections or adds the ones
the first did not have as a linkage of its own only if they alone make a valid orbit.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ephemerides.constants import GM_SUN_AU3_PER_DAY2
from ephemerides.elements import cartesian_to_keplerian
from ephemerides.progress import ProgressBar
from linking.detections import prepare_detections
from linking.heliolinc import STATE_COLUMNS, LinkingConfig, find_candidates
from linking.orbitfit import Observations, fit_orbit

ARCSEC_PER_DEG = 3600.0


@dataclass
class LinkResult:
    """Purified linkages with fitted orbits.

    Attributes
    ----------
    linkages : pandas.DataFrame
        One row per linkage, by ``linkage_id`` (0, 1, … in order of acceptance):
        ``n_detections``, ``n_nights``, ``arc_days``, ``rms_arcsec``, ``chi2``, the fitted
        heliocentric ICRF state ``x_au … vz_au_per_day`` at ``epoch_mjd_tdb`` (TDB),
        ``a_au`` and ``e`` of that state, ``covariance`` (the 36 entries of the state's 6×6
        covariance, row-major, AU and days), ``candidate_id`` (the HelioLinC3D candidate it came
        from).
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


def _sigma_arcsec(frame: pd.DataFrame, default: float) -> np.ndarray:
    """Per-detection uncertainty, arcsec: the mean of raErr and decErr (deg) where given."""
    sigma = np.full(len(frame), default)
    if {"raErr", "decErr"} <= set(frame.columns):
        given = 0.5 * (frame["raErr"].to_numpy(np.float64)
                       + frame["decErr"].to_numpy(np.float64)) * ARCSEC_PER_DEG
        ok = np.isfinite(given) & (given > 0)
        sigma[ok] = given[ok]
    return sigma


def link(
    detections: pd.DataFrame,
    config: LinkingConfig | None = None,
    *,
    observatory_code: str | None = "X05",
    progress: bool = False,
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
    progress : bool
        Progress bars on stderr for the search and the fits.

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
           progress: bool = False) -> LinkResult:
    """Fit and select candidate linkages so that no detection is in two (module docstring).

    Parameters
    ----------
    frame : pandas.DataFrame
        Detections as :func:`linking.prepare_detections` returns them.
    candidates : Candidates
        Output of :func:`linking.find_candidates` / :func:`linking.search_tracklets` on them.
    config : LinkingConfig
        Its ``fit`` settings are used.
    progress : bool
        Progress bar over the candidates on stderr.
    """
    fit_config = config.fit
    row_of = pd.Series(np.arange(len(frame)), index=frame["diaSourceId"].to_numpy())
    t_tai = frame["midpointMjdTai"].to_numpy(np.float64)
    ra = frame["ra"].to_numpy(np.float64)
    dec = frame["dec"].to_numpy(np.float64)
    sigma = _sigma_arcsec(frame, fit_config.default_sigma_arcsec)
    observer = frame[["observer_x_au", "observer_y_au", "observer_z_au"]].to_numpy(np.float64)
    nights = frame["night"].to_numpy(np.int64)

    table = candidates.linkages.sort_values(
        ["n_nights", "n_detections", "arc_days", "linkage_id"],
        ascending=[False, False, False, True]).reset_index(drop=True)
    members = candidates.members.groupby("linkage_id")["diaSourceId"].apply(np.asarray)
    claimed = np.zeros(len(frame), dtype=bool)
    accepted, member_rows = [], []
    bar = ProgressBar(len(table), "orbit fits", "candidates") if progress else None
    for k, candidate in enumerate(table.itertuples(index=False)):
        rows = np.sort(row_of.loc[members[candidate.linkage_id]].to_numpy())
        rows = rows[~claimed[rows]]
        if (rows.size >= fit_config.min_detections
                and np.unique(nights[rows]).size >= fit_config.min_nights):
            obs = Observations(t_tai[rows], ra[rows], dec[rows], sigma[rows], observer[rows],
                               nights[rows])
            state0 = np.array([getattr(candidate, name) for name in STATE_COLUMNS])
            fit = fit_orbit(obs, state0, candidate.epoch_mjd_tdb, fit_config)
            if fit.status == "ok":
                kept = rows[fit.used]
                claimed[kept] = True
                linkage_id = len(accepted)
                accepted.append((linkage_id, kept, fit, candidate.linkage_id))
                member_rows.append(pd.DataFrame({
                    "linkage_id": linkage_id,
                    "diaSourceId": frame["diaSourceId"].to_numpy()[kept],
                    "residual_ra_arcsec": fit.residual_ra_arcsec[fit.used],
                    "residual_dec_arcsec": fit.residual_dec_arcsec[fit.used],
                }))
        if bar is not None and (k % 100 == 99 or k == len(table) - 1):
            bar.update(k + 1, f"{len(accepted)} linkages")
    if bar is not None:
        bar.close()
    return LinkResult(_linkage_table(accepted, t_tai, nights), _member_table(member_rows),
                      frame[~claimed].reset_index(drop=True))


def _linkage_table(accepted, t_tai, nights) -> pd.DataFrame:
    states = np.array([fit.state for _, _, fit, _ in accepted]).reshape(-1, 6)
    elements = (cartesian_to_keplerian(states, GM_SUN_AU3_PER_DAY2) if len(accepted)
                else np.empty((0, 6)))
    return pd.DataFrame({
        "linkage_id": np.array([a[0] for a in accepted], dtype=np.int64),
        "n_detections": np.array([a[1].size for a in accepted], dtype=np.int64),
        "n_nights": np.array([np.unique(nights[a[1]]).size for a in accepted], dtype=np.int64),
        "arc_days": np.array([np.ptp(t_tai[a[1]]) for a in accepted], dtype=np.float64),
        "rms_arcsec": np.array([a[2].rms_arcsec for a in accepted], dtype=np.float64),
        "chi2": np.array([a[2].chi2 for a in accepted], dtype=np.float64),
        "epoch_mjd_tdb": np.array([a[2].epoch_mjd_tdb for a in accepted], dtype=np.float64),
        **{name: states[:, k] for k, name in enumerate(STATE_COLUMNS)},
        "a_au": elements[:, 0],
        "e": elements[:, 1],
        "covariance": [a[2].covariance.ravel() for a in accepted],
        "candidate_id": np.array([a[3] for a in accepted], dtype=np.int64),
    })


def _member_table(parts) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame({"linkage_id": np.empty(0, np.int64),
                             "diaSourceId": np.empty(0, np.int64),
                             "residual_ra_arcsec": np.empty(0),
                             "residual_dec_arcsec": np.empty(0)})
    return pd.concat(parts, ignore_index=True).sort_values(
        ["linkage_id", "diaSourceId"], ignore_index=True)
