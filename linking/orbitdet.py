"""Orbit determination from any astrometry of one object: :func:`determine_orbit`.

From a three-night discovery to a multi-opposition, multi-station arc, in four steps:

1. **Weights.** Each observation's σ (arcsec, per coordinate) is its ``raErr``/``decErr``
   where given; otherwise the station and epoch scheme of Vereš et al. (2017, Icarus 296, 139;
   :func:`station_sigma_arcsec`), inflated by √(N/4) when a station reported N > 4
   observations of the object in one night (their correction for correlated errors).
2. **Initial orbit** on a short, well-observed sub-arc: the windows of at most
   ``start_window_days`` holding the most nights are tried in turn (Gauss's method through
   three of their detections, :func:`linking.initial_orbits`, each root fitted to the window
   with 2-body motion) until one fits within ``max_rms_sigmas``.
3. **Progressive extension**: the arc is widened about the window, each side by
   ``extension_factor`` × the current span, and the orbit refitted with the chosen motion
   (N-body by default) from the previous solution, until it covers every observation.
4. **Outlier rejection** after each fit, in the manner of Carpino, Milani & Chesley (2003):
   an observation whose χ² (both coordinates, in its σ) exceeds ``reject_chi2`` is set aside,
   one set aside whose χ² has fallen below ``recover_chi2`` is taken back, and the orbit
   refitted until the set is stable.

The state is finally moved to an epoch at the middle of the arc (rounded to 0.1 day, or the
caller's ``epoch_mjd_tdb``) and refitted there, where its covariance is best conditioned.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ephemerides._kepler_kernels import propagate_pairs
from ephemerides.constants import EQUATORIAL_TO_ECLIPTIC, GM_SUN_AU3_PER_DAY2
from ephemerides.designations import ss_object_ids
from ephemerides.elements import sun_barycentric_states
from ephemerides.errors import InputError
from ephemerides.nbody import integrate
from ephemerides.orbits import DEFAULT_G, read_orbits
from ephemerides.photometry import hg_apparent_magnitude
from ephemerides.propagate import perturbers_for
from ephemerides.tablefiles import read_table_file
from ephemerides.timescales import convert_mjd
from linking.detections import astrometric_sigma_arcsec, prepare_detections
from linking.iod import initial_orbits
from linking.orbitfit import (
    METHODS,
    TT_MINUS_TAI_DAYS,
    Observations,
    OrbitFit,
    _perturbers,
    differential_correction,
    prior_information,
)

# Vereš et al. (2017), Tables 2-4: σ (arcsec) of the most productive stations, where the
# catalogue used does not matter; ``(code, before MJD, σ before, σ from then on)`` for the
# stations whose astrometry improved on a date.
_EPOCH_SIGMAS = {"703": (56658.0, 1.0, 0.8),   # Catalina, before 2014-01-01
                 "691": (52640.0, 0.6, 0.5),   # Spacewatch, before 2003-01-01
                 "644": (52883.0, 0.6, 0.4)}   # NEAT Palomar, before 2003-09-01
_STATION_SIGMAS = {
    **dict.fromkeys(("704", "C51", "J75"), 1.0),
    "G96": 0.5, "F51": 0.2, "G45": 0.6, "608": 0.6, "699": 0.8, "D29": 0.75, "E12": 0.75,
    **dict.fromkeys(("645", "673", "H01"), 0.3),
    **dict.fromkeys(("J04", "K92", "K93", "Q63", "Q64", "V37", "W85", "W86", "W87", "K91",
                     "E10", "F65"), 0.4),
    **dict.fromkeys(("689", "950", "W84"), 0.5),
}
# Any other station: 1.0″ when its star catalogue is known, 1.5″ when not (Vereš et al.);
# without catalogue information, the latter before 2000 (photographic and early CCD work).
_KNOWN_CATALOGUE_SIGMA, _UNKNOWN_CATALOGUE_SIGMA = 1.0, 1.5
_MJD_2000 = 51544.0


def station_sigma_arcsec(stations, mjd_utc, catalogues=None) -> np.ndarray:
    """Per-coordinate σ (arcsec) of observations by station and epoch (Vereš et al. 2017).

    Parameters
    ----------
    stations : array_like of str
        MPC observatory codes.
    mjd_utc : array_like of float
        Observation times, MJD (UTC; the scheme's dates are days).
    catalogues : array_like of str, optional
        Star catalogue codes (ADES ``astCat``, MPC column 72); '' where not reported. Without
        them, observations before 2000 count as of unknown catalogue.

    Returns
    -------
    numpy.ndarray of float64
    """
    stations = np.asarray(stations, dtype=object)
    mjd = np.asarray(mjd_utc, dtype=np.float64)
    if catalogues is None:
        known = mjd >= _MJD_2000
    else:
        known = np.array([bool(str(c).strip()) for c in catalogues], dtype=bool)
    sigma = np.where(known, _KNOWN_CATALOGUE_SIGMA, _UNKNOWN_CATALOGUE_SIGMA)
    for k, code in enumerate(stations):
        if code in _EPOCH_SIGMAS:
            switch, before, after = _EPOCH_SIGMAS[code]
            sigma[k] = before if mjd[k] < switch else after
        elif code in _STATION_SIGMAS:
            sigma[k] = _STATION_SIGMAS[code]
    return sigma


def _night_counts(stations: np.ndarray, nights: np.ndarray) -> np.ndarray:
    """How many observations each observation's station made in its night."""
    keys = pd.Series(list(zip(stations, nights, strict=True)))
    return keys.map(keys.value_counts()).to_numpy(dtype=np.float64)


@dataclass(frozen=True)
class DeterminationConfig:
    """Settings of :func:`determine_orbit` (validated when used).

    Attributes
    ----------
    start_window_days : float
        Longest sub-arc the initial orbit is computed on, days.
    extension_factor : float
        Each extension widens the arc on each side by this × its current span.
    reject_chi2, recover_chi2 : float
        χ² (2 degrees of freedom) above which an observation is set aside, and below which one
        set aside is taken back (Carpino et al. 2003: 8 and 7).
    max_rms_sigmas : float
        Largest RMS of the kept observations' residuals in units of their σ (both
        coordinates) a fit may end with; about 1 when the weights are right.
    min_kept_fraction : float
        Fewest observations, as a fraction of all, a fit with status ``ok`` keeps.
    max_iterations : int
        Levenberg–Marquardt steps per fit.
    max_starts : int
        Initial-orbit windows tried before giving up.
    """

    start_window_days: float = 30.0
    extension_factor: float = 1.0
    reject_chi2: float = 8.0
    recover_chi2: float = 7.0
    max_rms_sigmas: float = 3.0
    min_kept_fraction: float = 0.8
    max_iterations: int = 30
    max_starts: int = 10

    def validate(self) -> None:
        """Raise InputError naming the setting when one is out of range."""
        for name in ("start_window_days", "extension_factor", "reject_chi2", "recover_chi2",
                     "max_rms_sigmas"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and np.isfinite(value) and value > 0):
                raise InputError(f"DeterminationConfig.{name} must be a finite number > 0; "
                                 f"got {value!r}")
        if self.recover_chi2 > self.reject_chi2:
            raise InputError("DeterminationConfig.recover_chi2 must be <= reject_chi2; got "
                             f"{self.recover_chi2!r} > {self.reject_chi2!r}")
        if not 0.0 < self.min_kept_fraction <= 1.0:
            raise InputError("DeterminationConfig.min_kept_fraction must be in (0, 1]; got "
                             f"{self.min_kept_fraction!r}")
        for name in ("max_iterations", "max_starts"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise InputError(f"DeterminationConfig.{name} must be an integer >= 1; got "
                                 f"{value!r}")


def _fit_with_rejection(state, epoch, obs, rows, used, config, method):
    """Fit on ``rows`` (mask) from ``state``, setting outliers aside and taking back those
    that fit again, until the kept set is stable; returns (state, covariance, res, used)."""
    for _ in range(10):
        kept = rows & used
        state, covariance, res, _ = differential_correction(
            state, epoch, obs, kept, config.max_iterations, method)
        if not np.isfinite(state).all():
            return state, covariance, res, used
        chi2 = np.where(rows, (res ** 2).sum(axis=1) / obs.sigma ** 2, np.inf)
        chi2 = np.where(np.isfinite(chi2), chi2, np.inf)
        new = used.copy()
        new[rows & used & (chi2 > config.reject_chi2)] = False
        new[rows & ~used & (chi2 < config.recover_chi2)] = True
        if np.array_equal(new, used) or (rows & new).sum() < 6:
            return state, covariance, res, used
        used = new
    return state, covariance, res, used


def _start_windows(t: np.ndarray, nights: np.ndarray, span: float) -> list[np.ndarray]:
    """Masks of the windows of at most ``span`` days starting at each night, the ones with
    the most nights (then observations) first; windows of fewer than three nights left out."""
    windows, seen = [], set()
    for first in np.unique(nights):
        start = t[nights == first].min()
        mask = (t >= start) & (t <= start + span)
        key = (int(np.flatnonzero(mask)[0]), int(np.flatnonzero(mask)[-1]))
        n_nights = np.unique(nights[mask]).size
        if n_nights >= 3 and key not in seen:
            seen.add(key)
            windows.append((n_nights, int(mask.sum()), -start, mask))
    windows.sort(key=lambda w: w[:3], reverse=True)
    return [w[3] for w in windows]


def _initial_orbit(obs, config):
    """(epoch, state, window mask) of the first window whose Gauss orbit fits it, or None."""
    for window in _start_windows(obs.t_tdb, obs.nights, config.start_window_days)[
            :config.max_starts]:
        part = obs.subset(window)
        best = None
        for epoch, state in initial_orbits(part):
            used = np.ones(window.sum(), dtype=bool)
            fitted, _, res, used = _fit_with_rejection(
                state, epoch, part, np.ones_like(used), used, config, "2body")
            if not np.isfinite(fitted).all() or used.sum() < 6:
                continue
            rms = float(np.sqrt(np.mean(res[used] ** 2 / part.sigma[used, None] ** 2)))
            if rms <= config.max_rms_sigmas and (best is None or rms < best[0]):
                best = (rms, epoch, fitted)
        if best is not None:
            return best[1], best[2], window
    return None


def _move_epoch(state, epoch, new_epoch, method, perturbers):
    """The state carried from ``epoch`` to ``new_epoch`` (TDB) by the fit's motion."""
    if new_epoch == epoch:
        return state
    if method == "2body":
        moved = state[None].copy()
        propagate_pairs(moved, np.array([new_epoch - epoch]), GM_SUN_AU3_PER_DAY2, moved)
        return moved[0]
    sun = sun_barycentric_states(np.array([epoch, new_epoch]), frame="equatorial")
    moved, _ = integrate((state + sun[0])[None], epoch, np.array([new_epoch]),
                         perturbers=perturbers)
    return moved[0, 0] - sun[1]


def _observations(detections: pd.DataFrame) -> tuple[Observations, pd.DataFrame]:
    frame = prepare_detections(detections, observatory_code=None
                               if "observatoryCode" in detections.columns else "X05")
    stations = (frame["observatoryCode"].astype(str).to_numpy()
                if "observatoryCode" in frame.columns else np.full(len(frame), "X05"))
    given = astrometric_sigma_arcsec(frame, np.nan)
    mjd_utc = convert_mjd(frame["midpointMjdTai"].to_numpy(np.float64), "tai", "utc")
    catalogues = frame["astCat"].to_numpy() if "astCat" in frame.columns else None
    scheme = station_sigma_arcsec(stations, mjd_utc, catalogues)
    scheme = scheme * np.sqrt(np.maximum(_night_counts(stations, frame["night"].to_numpy())
                                         / 4.0, 1.0))
    sigma = np.where(np.isfinite(given), given, scheme)
    names = frame["designation"].astype(str).unique() if "designation" in frame.columns else []
    obs = Observations(frame["midpointMjdTai"], frame["ra"], frame["dec"], sigma,
                       frame[["observer_x_au", "observer_y_au", "observer_z_au"]].to_numpy(),
                       frame["night"].to_numpy(),
                       perturbers_for(names[0]) if len(names) == 1 else None)
    return obs, frame


def determine_orbit(detections: pd.DataFrame, method: str = "nbody",
                    config: DeterminationConfig | None = None,
                    epoch_mjd_tdb: float | None = None) -> tuple[OrbitFit, pd.DataFrame]:
    """The orbit of one object from all its astrometry (method in the module docstring).

    Parameters
    ----------
    detections : pandas.DataFrame
        One object's observations as :func:`linking.read_mpc80` or :func:`linking.read_ades`
        give them (``midpointMjdTai``, ``ra``, ``dec``, ``observatoryCode``; ``raErr`` and
        ``decErr`` in degrees where known; ``astCat`` optional), or any DiaSource-style table
        :func:`linking.prepare_detections` takes.
    method : {"nbody", "2body"}
        Motion for the extension and the final fit (the initial orbit is always 2-body).
    config : DeterminationConfig, optional
    epoch_mjd_tdb : float, optional
        Epoch of the returned state (TDB); by default the middle of the arc, to 0.1 day.

    Returns
    -------
    fit : OrbitFit
        ``status`` "ok" when the final RMS (in σ units) is within ``max_rms_sigmas`` and at
        least ``min_kept_fraction`` of the observations are kept; "rms_too_high" otherwise;
        "no_initial_orbit" when no window of three or more nights gives a Gauss orbit that
        fits it; "failed" when the motion could not be computed. Residuals and ``used`` are in
        the order of ``observations``.
    observations : pandas.DataFrame
        The detections sorted by time with their observer positions, nights and ``sigma_arcsec``
        (the weight used).
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    config = DeterminationConfig() if config is None else config
    config.validate()
    if not isinstance(detections, pd.DataFrame):
        raise InputError("detections must be a pandas DataFrame of one object's astrometry")
    obs, frame = _observations(detections)
    frame = frame.assign(sigma_arcsec=obs.sigma)
    n = len(obs)
    nothing = np.full(n, np.nan)
    start = _initial_orbit(obs, config) if n >= 6 else None
    if start is None:
        return OrbitFit(np.nan, np.full(6, np.nan), np.full((6, 6), np.nan), nothing,
                        nothing, np.zeros(n, dtype=bool), np.nan, np.nan,
                        "no_initial_orbit"), frame
    epoch, state, rows = start
    used = np.ones(n, dtype=bool)
    t = obs.t_tdb
    low, high = t[rows].min(), t[rows].max()
    while True:
        state, covariance, res, used = _fit_with_rejection(state, epoch, obs, rows, used,
                                                           config, method)
        if not np.isfinite(state).all() or rows.all():
            break
        span = max(high - low, 1.0)
        low, high = low - config.extension_factor * span, high + config.extension_factor * span
        rows = (t >= low) & (t <= high)
    if np.isfinite(state).all():
        final = (epoch_mjd_tdb if epoch_mjd_tdb is not None
                 else round(0.5 * (t.min() + t.max()), 1))
        state = _move_epoch(state, epoch, float(final), method,
                            _perturbers() if obs.perturbers is None else obs.perturbers)
        epoch = float(final)
        state, covariance, res, used = _fit_with_rejection(state, epoch, obs, rows, used,
                                                           config, method)
    if not (np.isfinite(state).all() and np.isfinite(res[used]).all()):
        return OrbitFit(epoch, state, covariance, nothing, nothing, used, np.nan, np.nan,
                        "failed"), frame
    normalised = res[used] / obs.sigma[used, None]
    chi2 = float((normalised ** 2).sum())
    rms = float(np.sqrt(np.mean(res[used] ** 2)))
    good = (np.sqrt(np.mean(normalised ** 2)) <= config.max_rms_sigmas
            and used.mean() >= config.min_kept_fraction)
    return OrbitFit(epoch, state, covariance, res[:, 0], res[:, 1], used, rms, chi2,
                    "ok" if good else "rms_too_high"), frame


# Magnitude band → V offsets (V = mag + offset) of the MPC's conversions, for H.
BAND_TO_V = {"V": 0.0, "v": 0.0, "B": -0.8, "U": -1.3, "R": 0.4, "C": 0.4, "W": 0.4,
             "I": 0.8, "J": 1.2, "H": 1.4, "K": 1.7, "g": -0.35, "r": 0.14, "i": 0.32,
             "z": 0.26, "y": 0.32, "w": -0.13, "G": 0.28, "c": -0.05, "o": 0.33, "L": 0.2,
             "Y": 0.7}
_STATE = ("x_au", "y_au", "z_au", "vx_au_per_day", "vy_au_per_day", "vz_au_per_day")
COVARIANCE_COLUMNS = tuple(f"cov_{_STATE[i].split('_')[0]}_{_STATE[j].split('_')[0]}"
                           for i in range(6) for j in range(i, 6))


def _absolute_magnitude(fit: OrbitFit, frame: pd.DataFrame, perturbers) -> float:
    """Median H (G = 0.15) over the kept observations with a magnitude in a known band."""
    if "mag" not in frame.columns or "band" not in frame.columns:
        return np.nan
    offset = frame["band"].astype(str).map(BAND_TO_V).to_numpy(np.float64)
    mag = frame["mag"].to_numpy(np.float64) + offset
    rows = np.flatnonzero(fit.used & np.isfinite(mag))
    if rows.size == 0:
        return np.nan
    t = frame["midpointMjdTai"].to_numpy(np.float64)[rows] + TT_MINUS_TAI_DAYS
    sun = sun_barycentric_states(t, frame="equatorial")
    start = (fit.state + sun_barycentric_states(np.array([fit.epoch_mjd_tdb]),
                                                frame="equatorial")[0])[None]
    moved, _ = integrate(start, fit.epoch_mjd_tdb, t, perturbers=perturbers)
    body = moved[0, :, :3] - sun[:, :3]
    observer = frame[["observer_x_au", "observer_y_au", "observer_z_au"]].to_numpy()[rows]
    to_body = body - observer
    r, delta = np.linalg.norm(body, axis=1), np.linalg.norm(to_body, axis=1)
    phase = np.degrees(np.arccos(np.clip((body * to_body).sum(axis=1) / (r * delta),
                                         -1.0, 1.0)))
    return float(np.median(mag[rows] - hg_apparent_magnitude(0.0, DEFAULT_G, r, delta,
                                                              phase)))


def orbit_table(fits: dict[str, tuple[OrbitFit, pd.DataFrame]]) -> pd.DataFrame:
    """Fitted orbits as an orbit table :func:`ephemerides.read_orbits` reads (``CART``:
    heliocentric ecliptic J2000 state), one row per object, with ``H`` from the observed
    magnitudes, the fit's ``status``, ``rms_arcsec``, ``n_observations``, ``n_used``,
    ``arc_days`` and the 21 upper-triangle elements of the state's covariance in the same
    frame (``cov_x_x`` … ``cov_vz_vz``; AU and AU/day)."""
    rotation = np.kron(np.eye(2), EQUATORIAL_TO_ECLIPTIC)
    rows = []
    for name, (fit, frame) in fits.items():
        state = rotation @ fit.state
        covariance = rotation @ fit.covariance @ rotation.T
        times = frame["midpointMjdTai"].to_numpy(np.float64)
        perturbers = perturbers_for(name)
        rows.append({
            "object_id": name, "format": "CART",
            **dict(zip(_STATE, state, strict=True)), "epoch_mjd_tdb": fit.epoch_mjd_tdb,
            "H": (_absolute_magnitude(fit, frame, perturbers)
                  if np.isfinite(fit.state).all() else np.nan),
            "G": DEFAULT_G, "status": fit.status, "rms_arcsec": fit.rms_arcsec,
            "n_observations": len(times), "n_used": int(fit.used.sum()),
            "arc_days": float(times.max() - times.min()) if len(times) else 0.0,
            **dict(zip(COVARIANCE_COLUMNS, covariance[np.triu_indices(6)], strict=True)),
        })
    table = pd.DataFrame(rows, columns=["object_id", "format", *_STATE, "epoch_mjd_tdb", "H",
                                        "G", "status", "rms_arcsec", "n_observations",
                                        "n_used", "arc_days", *COVARIANCE_COLUMNS])
    table.insert(1, "ssObjectId", ss_object_ids(table["object_id"].astype(str).tolist())
                 if len(table) else np.array([], dtype=np.int64))
    return table


def residual_table(fits: dict[str, tuple[OrbitFit, pd.DataFrame]]) -> pd.DataFrame:
    """Every observation's residuals (O − C, arcsec: Δα cos δ, Δδ), σ and whether the fit
    kept it, one row per observation, objects in the order of ``fits`` and times in order."""
    parts = [pd.DataFrame({
        "object_id": name,
        "diaSourceId": frame["diaSourceId"].to_numpy(np.int64),
        "midpointMjdTai": frame["midpointMjdTai"].to_numpy(np.float64),
        "observatoryCode": frame["observatoryCode"].astype(str).to_numpy()
        if "observatoryCode" in frame.columns else "",
        "residual_ra_arcsec": fit.residual_ra_arcsec,
        "residual_dec_arcsec": fit.residual_dec_arcsec,
        "sigma_arcsec": frame["sigma_arcsec"].to_numpy(np.float64),
        "used": fit.used,
    }) for name, (fit, frame) in fits.items()]
    columns = ["object_id", "diaSourceId", "midpointMjdTai", "observatoryCode",
               "residual_ra_arcsec", "residual_dec_arcsec", "sigma_arcsec", "used"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def read_fitted_orbits(path) -> pd.DataFrame:
    """An orbit file with the covariances :func:`orbit_table` writes (``sso orbit fit``).

    Returns :func:`ephemerides.read_orbits`'s table with ``covariance``: 36 values per row,
    the heliocentric ecliptic J2000 CART state's covariance (AU, AU/day) from the 21 columns
    ``cov_x_x`` … ``cov_vz_vz``, or NaN where the file has none (any orbit file without those
    columns, or a row whose columns are empty).

    Raises
    ------
    InputError
        Naming the file and row: some covariance columns but not all, a covariance on an
        orbit that is not CART, a row with some of its 21 values empty, or a covariance that
        is not positive definite (:func:`linking.orbitfit.prior_information`).
    """
    orbits = read_orbits(path)
    nothing = np.full((len(orbits), 36), np.nan)
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".parquet"):
        return orbits.assign(covariance=list(nothing))
    raw = read_table_file(path, "orbit file")
    present = [c for c in COVARIANCE_COLUMNS if c in raw.columns]
    if not present:
        return orbits.assign(covariance=list(nothing))
    if len(present) < len(COVARIANCE_COLUMNS):
        missing = [c for c in COVARIANCE_COLUMNS if c not in raw.columns]
        raise InputError(f"orbit file {path}: covariance columns {missing} are missing "
                         f"(a covariance has all 21 of {COVARIANCE_COLUMNS[0]} … "
                         f"{COVARIANCE_COLUMNS[-1]})")
    values = raw[list(COVARIANCE_COLUMNS)].apply(pd.to_numeric, errors="coerce").to_numpy(
        np.float64)
    rows = np.triu_indices(6)
    for k, upper in enumerate(values):
        where = f"orbit file {path}, row {k + 1} ({orbits['object_id'].iat[k]})"
        if np.isnan(upper).all():
            continue
        if np.isnan(upper).any():
            raise InputError(f"{where}: covariance column "
                             f"{COVARIANCE_COLUMNS[int(np.flatnonzero(np.isnan(upper))[0])]} is "
                             "empty or not a number while others are given")
        if orbits["format"].iat[k] != "CART":
            raise InputError(f"{where}: a covariance is given for a {orbits['format'].iat[k]} "
                             "orbit; covariances belong to CART states")
        matrix = np.zeros((6, 6))
        matrix[rows] = upper
        matrix = matrix + np.triu(matrix, 1).T
        try:
            prior_information(orbits[list(_STATE)].to_numpy()[k], matrix)
        except InputError as error:
            raise InputError(f"{where}: {error}") from None
        nothing[k] = matrix.reshape(-1)
    return orbits.assign(covariance=list(nothing))
