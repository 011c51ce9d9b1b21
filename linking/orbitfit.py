"""Orbit determination for candidate linkages: least-squares differential correction.

Model
-----
The unknown is the heliocentric ICRF state (x, y, z, vx, vy, vz; AU, AU/day) at an epoch (TDB).
For each detection, the state is carried to the observation time either by 2-body motion
(``method="2body"``: universal variables, :func:`ephemerides._kepler_kernels.propagate_pairs`)
or by the N-body integration with the planets, Moon, Pluto, the massive asteroids and GR
(``method="nbody"``: :func:`ephemerides.nbody.integrate`, ~0.2 ms per evaluation over two
weeks; the partial derivatives stay those of 2-body motion), and the astrometric RA/Dec is
computed by the project's observation kernel (:func:`ephemerides._observation_kernels.observe`:
barycentric light path, light time iterated with exact 2-body motion from the state at the
observation time, the Sun's barycentric state from DE440) from the observer's position
(heliocentric, as :func:`linking.prepare_detections` adds it). Over a linking window (≤ 15 days)
the planets' pull changes a main-belt position by ≲ 100 km (≲ 0.1″) and a 2-body fit absorbs
most of it, so the many candidate fits of :func:`linking.link` use 2-body motion and its
accepted linkages are refitted with N-body motion; arcs of months need the N-body model
throughout.

Fit
---
Residuals are (Δα cos δ, Δδ), observed minus computed, in arcsec, weighted by the detection's
``raErr``/``decErr`` (degrees; :attr:`FitConfig.default_sigma_arcsec` where absent). The state is
corrected by Levenberg–Marquardt steps on the normal equations with a central-difference
Jacobian (steps 1e-8 AU and 1e-10 AU/day, far above rounding and far below the solution's
precision); the covariance of the state is the inverse of the weighted normal matrix at the
solution. Outliers: while the RMS exceeds ``max_rms_arcsec`` or a residual exceeds
``outlier_sigma`` times its σ, the detection with the largest normalised residual is dropped
(with every other one beyond both half its normalised residual and ``outlier_sigma``, so that a
foreign tracklet goes in one refit) and the orbit refitted, as long as ``min_detections`` on
``min_nights`` nights remain.
"""

from dataclasses import dataclass
from functools import cache

import numpy as np

from ephemerides._kepler_kernels import propagate_pairs
from ephemerides._observation_kernels import DEC, N_COLUMNS, RA, observe
from ephemerides.constants import C_AU_PER_DAY, GM_SUN_AU3_PER_DAY2
from ephemerides.elements import sun_barycentric_states
from ephemerides.errors import InputError
from ephemerides.nbody import integrate
from ephemerides.spk import load_perturbers

ARCSEC_PER_RAD = np.rad2deg(1.0) * 3600.0
TT_MINUS_TAI_DAYS = 32.184 / 86400.0
# Central-difference steps of the Jacobian: position (AU), velocity (AU/day).
STEPS = np.array([1e-8, 1e-8, 1e-8, 1e-10, 1e-10, 1e-10])
METHODS = ("2body", "nbody")


@dataclass(frozen=True)
class FitConfig:
    """Settings of the orbit fit (validated when used).

    Attributes
    ----------
    max_rms_arcsec : float
        Largest acceptable RMS of the residuals, arcsec: 1″, several times LSST's astrometric
        error at the faint end, well below what a wrong linkage leaves.
    outlier_sigma : float
        A detection whose residual exceeds this many of its σ is an outlier even when the RMS
        is acceptable: 5 (a 2-D Gaussian exceeds it with probability 4e-6).
    min_detections : int
        Fewest detections a fit may keep while dropping outliers: 6 (three tracklets).
    min_nights : int
        Fewest nights the kept detections must span: 3.
    max_iterations : int
        Largest number of Levenberg–Marquardt steps per fit.
    default_sigma_arcsec : float
        Astrometric uncertainty of a detection without ``raErr``/``decErr``, arcsec.
    """

    max_rms_arcsec: float = 1.0
    outlier_sigma: float = 5.0
    min_detections: int = 6
    min_nights: int = 3
    max_iterations: int = 30
    default_sigma_arcsec: float = 0.1

    def validate(self) -> None:
        """Raise ValueError naming the setting when one is out of range."""
        for name in ("max_rms_arcsec", "outlier_sigma", "default_sigma_arcsec"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise InputError(f"FitConfig.{name} must be finite and > 0; got {value!r}")
        for name in ("min_detections", "min_nights", "max_iterations"):
            value = getattr(self, name)
            if not (isinstance(value, int | np.integer) and value >= 1):
                raise InputError(f"FitConfig.{name} must be an integer >= 1; got {value!r}")


@dataclass
class OrbitFit:
    """Result of :func:`fit_orbit`.

    Attributes
    ----------
    epoch_mjd_tdb : float
        Epoch of the state (TDB).
    state : ndarray (6,)
        Heliocentric ICRF state at the epoch, AU and AU/day.
    covariance : ndarray (6, 6)
        Covariance of the state (AU², AU²/day, AU²/day²), from the kept detections.
    residual_ra_arcsec, residual_dec_arcsec : ndarray (n,)
        Observed minus computed Δα cos δ and Δδ of every detection (kept or not), arcsec.
    used : ndarray (n,) of bool
        Detections kept in the fit.
    rms_arcsec : float
        RMS of the kept detections' residuals (both coordinates).
    chi2 : float
        Σ (residual / σ)² over the kept detections (both coordinates).
    status : str
        ``"ok"`` (RMS within the limit and every kept residual within ``outlier_sigma``),
        ``"rms_too_high"`` (no subset within the limits fits) or ``"failed"`` (the model
        could not be evaluated, e.g. no finite prediction).
    """

    epoch_mjd_tdb: float
    state: np.ndarray
    covariance: np.ndarray
    residual_ra_arcsec: np.ndarray
    residual_dec_arcsec: np.ndarray
    used: np.ndarray
    rms_arcsec: float
    chi2: float
    status: str


class Observations:
    """Detections prepared for the fit: times, directions, uncertainties and the geometry.

    Parameters
    ----------
    mjd_tai : (n,) array
        Observation times, MJD TAI.
    ra_deg, dec_deg : (n,) arrays
        Astrometric ICRF positions, degrees.
    sigma_arcsec : (n,) array
        Astrometric uncertainty per coordinate, arcsec.
    observer_au : (n, 3) array
        Heliocentric ICRF observer positions, AU.
    nights : (n,) array of int
        Night of each detection.
    perturbers : ephemerides.spk.SpkEphemeris, optional
        The N-body force model's bodies (default: all of them); for one of the massive
        asteroids, those less itself (:func:`ephemerides.propagate.perturbers_for`).
    """

    def __init__(self, mjd_tai, ra_deg, dec_deg, sigma_arcsec, observer_au, nights,
                 perturbers=None):
        self.perturbers = perturbers
        self.t_tdb = np.asarray(mjd_tai, dtype=np.float64) + TT_MINUS_TAI_DAYS
        self.ra = np.deg2rad(np.asarray(ra_deg, dtype=np.float64))
        self.dec = np.deg2rad(np.asarray(dec_deg, dtype=np.float64))
        self.sigma = np.asarray(sigma_arcsec, dtype=np.float64)
        self.nights = np.asarray(nights)
        sun = sun_barycentric_states(self.t_tdb, frame="equatorial")
        # The observer's velocity enters only rates and aberrated angles, not RA/Dec.
        observer = np.asarray(observer_au, dtype=np.float64)
        self.sun = np.ascontiguousarray(sun)
        self.observer = np.ascontiguousarray(
            np.column_stack((observer + sun[:, :3], sun[:, 3:])))

    def __len__(self) -> int:
        return self.t_tdb.size

    def subset(self, rows) -> "Observations":
        """The observations at ``rows`` (indices or a mask), sharing the computed geometry."""
        part = object.__new__(Observations)
        part.perturbers = self.perturbers
        for name in ("t_tdb", "ra", "dec", "sigma", "nights", "sun", "observer"):
            setattr(part, name, np.ascontiguousarray(getattr(self, name)[rows]))
        return part


@cache
def _perturbers():
    """The N-body force model's bodies, loaded (and the kernels checked) once per process."""
    return load_perturbers()


def predict_radec(states: np.ndarray, epoch_mjd_tdb: float, obs: Observations,
                  method: str = "2body") -> np.ndarray:
    """Astrometric RA/Dec (rad) of each of k states at every observation: shape (k, n, 2).

    ``method`` "2body" carries the states by Kepler motion, "nbody" integrates them with the
    planets (:func:`ephemerides.nbody.integrate`); NaN where an integration failed.
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    k, n = states.shape[0], len(obs)
    if method == "nbody":
        at_t = np.full((k, n, 6), np.nan)
        finite = np.isfinite(states).all(axis=1)
        if finite.any():
            sun = sun_barycentric_states(np.array([epoch_mjd_tdb]), frame="equatorial")
            bodies = _perturbers() if obs.perturbers is None else obs.perturbers
            moved, _ = integrate(states[finite] + sun, epoch_mjd_tdb, obs.t_tdb,
                                 perturbers=bodies)
            at_t[finite] = moved - obs.sun[None]
        at_t = at_t.reshape(k * n, 6)
    else:
        at_t = np.repeat(states, n, axis=0)
        dt = np.tile(obs.t_tdb - epoch_mjd_tdb, k)
        propagate_pairs(at_t, dt, GM_SUN_AU3_PER_DAY2, at_t)
    out = np.empty((k * n, N_COLUMNS))
    observe(at_t, np.tile(obs.sun, (k, 1)), np.tile(obs.observer, (k, 1)),
            GM_SUN_AU3_PER_DAY2, C_AU_PER_DAY, 1e-12, 10, out)
    return out[:, [RA, DEC]].reshape(k, n, 2)


def _residuals(radec: np.ndarray, obs: Observations) -> np.ndarray:
    """Observed minus computed (Δα cos δ, Δδ), arcsec, shape (..., n, 2)."""
    dra = (obs.ra - radec[..., 0] + np.pi) % (2.0 * np.pi) - np.pi
    return np.stack((dra * np.cos(obs.dec), obs.dec - radec[..., 1]), axis=-1) * ARCSEC_PER_RAD


def _jacobian(state, epoch, obs, method="2body"):
    """Residuals at ``state`` (n, 2) and their derivatives d(residual)/d(state) (n, 2, 6).

    The derivatives are those of 2-body motion for either method: the planets change them by
    a relative ~1e-4 over weeks, which slows the convergence of an N-body fit imperceptibly
    and leaves its solution (set by the N-body residuals) unchanged.
    """
    trial = np.repeat(state[None], 13, axis=0)
    for j in range(6):
        trial[1 + 2 * j, j] += STEPS[j]
        trial[2 + 2 * j, j] -= STEPS[j]
    res = _residuals(predict_radec(trial, epoch, obs), obs)
    jac = np.stack([(res[1 + 2 * j] - res[2 + 2 * j]) / (2.0 * STEPS[j]) for j in range(6)],
                   axis=-1)
    if method != "2body":
        return residuals(state, epoch, obs, method), jac
    return res[0], jac


def residuals(state, epoch_mjd_tdb: float, obs: Observations, method: str = "2body"):
    """Observed minus computed (Δα cos δ, Δδ) of one state at every observation, arcsec (n, 2)."""
    return _residuals(predict_radec(np.asarray(state, np.float64)[None], epoch_mjd_tdb, obs,
                                    method)[0], obs)


def sky_covariance(state, covariance, epoch_mjd_tdb: float, obs: Observations) -> np.ndarray:
    """Covariance of the predicted (α cos δ, δ) at every observation, arcsec² (n, 2, 2): the
    state's covariance mapped linearly through the 2-body prediction."""
    _, jac = _jacobian(np.asarray(state, np.float64), epoch_mjd_tdb, obs)
    return jac @ np.asarray(covariance, np.float64) @ np.swapaxes(jac, -1, -2)


def _chi2(state, epoch, obs, used, method, prior=None):
    res = residuals(state, epoch, obs, method)
    chi2 = float(((res[used] / obs.sigma[used, None]) ** 2).sum())
    if prior is not None:
        offset = state - prior[0]
        chi2 += float(offset @ prior[1] @ offset)
    return chi2


def prior_information(state, covariance) -> tuple[np.ndarray, np.ndarray]:
    """A prior orbit for :func:`fit_orbit`: its state and the inverse of its covariance.

    Raises InputError when the covariance is not a finite, symmetric, positive definite
    6×6 matrix (its inverse would weigh the prior wrongly)."""
    state = np.asarray(state, np.float64).reshape(6)
    covariance = np.asarray(covariance, np.float64)
    if covariance.size != 36 or not np.isfinite(covariance).all():
        raise InputError("a prior orbit's covariance must be a finite 6x6 matrix")
    covariance = covariance.reshape(6, 6)
    if not np.allclose(covariance, covariance.T, rtol=1e-8, atol=0.0):
        raise InputError("a prior orbit's covariance must be symmetric")
    try:
        factor = np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:
        raise InputError("a prior orbit's covariance must be positive definite") from None
    inverse = np.linalg.inv(factor)
    return state, inverse.T @ inverse


def differential_correction(state, epoch, obs, used, max_iterations, method="2body",
                            tolerance=1e-8, prior=None):
    """Levenberg–Marquardt least squares on the kept detections.

    Converged when a step would lower chi² by at most ``tolerance`` × max(chi², 1) (the step
    then moves the state by √``tolerance`` × max(√chi², 1) of its uncertainty, or less).
    ``prior``: (state, information matrix) of an earlier solution at the same epoch
    (:func:`prior_information`), weighed in as six more measurements: the fit is then the
    joint fit of the earlier solution's observations and these (to first order).
    Returns ``(state, covariance, residuals (n, 2), chi2)``; NaN state when the model fails.
    """
    weights = 1.0 / obs.sigma[used] ** 2
    information = np.zeros((6, 6)) if prior is None else prior[1]
    damping = 1e-3
    chi2 = _chi2(state, epoch, obs, used, method, prior)
    for _ in range(max_iterations):
        res, jac = _jacobian(state, epoch, obs, method)
        a = jac[used].reshape(-1, 6)
        r = res[used].reshape(-1)
        w = np.repeat(weights, 2)
        normal = a.T @ (a * w[:, None]) + information
        gradient = a.T @ (r * w)
        if prior is not None:
            gradient = gradient + information @ (state - prior[0])
        if not (np.isfinite(normal).all() and np.isfinite(gradient).all()):
            break
        improved = False
        while damping < 1e12:
            lhs = normal + damping * np.diag(np.diag(normal))
            try:
                step = -np.linalg.solve(lhs, gradient)
            except np.linalg.LinAlgError:
                damping *= 10.0
                continue
            # The step's decrease of chi² on the linear model; below the tolerance the fit has
            # converged (trying it would only chase rounding with ever larger damping).
            predicted = -(2.0 * gradient @ step + step @ normal @ step)
            if predicted <= tolerance * max(chi2, 1.0):
                break
            trial = state + step
            trial_chi2 = _chi2(trial, epoch, obs, used, method, prior)
            if np.isfinite(trial_chi2) and trial_chi2 <= chi2:
                converged = chi2 - trial_chi2 <= tolerance * max(chi2, 1.0)
                state, chi2 = trial, trial_chi2
                damping = max(damping / 10.0, 1e-12)
                improved = not converged
                break
            damping *= 10.0
        if not improved:
            break
    res, jac = _jacobian(state, epoch, obs, method)
    a = jac[used].reshape(-1, 6)
    normal = a.T @ (a * np.repeat(weights, 2)[:, None]) + information
    try:
        covariance = np.linalg.inv(normal)
    except np.linalg.LinAlgError:
        covariance = np.full((6, 6), np.nan)
    return state, covariance, res, chi2


def _enough(used, nights, config) -> bool:
    """Whether the kept detections meet ``min_detections`` and ``min_nights``."""
    return (used.sum() >= config.min_detections
            and np.unique(nights[used]).size >= config.min_nights)


def fit_orbit(obs: Observations, state0, epoch_mjd_tdb: float,
              config: FitConfig | None = None, method: str = "2body",
              tolerance: float = 1e-8, prior=None) -> OrbitFit:
    """Fit a heliocentric orbit to detections, dropping outliers (method in the module docstring).

    Parameters
    ----------
    obs : Observations
        The detections of one linkage.
    state0 : array_like (6,)
        Initial heliocentric ICRF state at ``epoch_mjd_tdb`` (e.g. a candidate's cluster state).
    epoch_mjd_tdb : float
        Epoch of the state, MJD TDB.
    config : FitConfig, optional
        ``FitConfig()`` when omitted.
    method : {"2body", "nbody"}
        Motion model: Kepler (fast; for the many candidate fits of a linking window) or the
        N-body integration with the planets (final fits, arcs beyond a few weeks).
    tolerance : float
        Convergence: a step that would lower chi² by at most this × max(chi², 1) ends each
        fit (it would move the state by at most √this × max(√chi², 1) of its uncertainty).
        1e-8 recovers noise-free orbits to a kilometre.
    prior : tuple, optional
        An earlier solution at ``epoch_mjd_tdb`` whose observations these add to:
        :func:`prior_information` of its state and covariance. The fit is then the joint fit
        of both sets (to first order) and its ``chi2`` includes the prior's term.

    Returns
    -------
    OrbitFit
    """
    config = FitConfig() if config is None else config
    config.validate()
    state = np.asarray(state0, dtype=np.float64).copy()
    used = np.ones(len(obs), dtype=bool)
    while True:
        state, covariance, res, chi2 = differential_correction(
            state, epoch_mjd_tdb, obs, used, config.max_iterations, method, tolerance, prior)
        if not np.isfinite(res[used]).all():
            return OrbitFit(epoch_mjd_tdb, state, covariance, res[:, 0], res[:, 1], used,
                            np.nan, np.nan, "failed")
        rms = float(np.sqrt(np.mean(res[used] ** 2)))
        score = np.where(used, np.hypot(res[:, 0], res[:, 1]) / obs.sigma, -np.inf)
        worst = int(np.argmax(score))
        if rms <= config.max_rms_arcsec and score[worst] <= config.outlier_sigma:
            status = "ok"
            break
        # Drop the worst detection, and with it every other one at least half as far off
        # (several wild points, e.g. a foreign tracklet, go in one refit); only the worst when
        # that would leave too few.
        single = used.copy()
        single[worst] = False
        batch = single & (score < max(0.5 * score[worst], config.outlier_sigma))
        trial = next((t for t in (batch, single) if _enough(t, obs.nights, config)), None)
        if trial is None:
            # Too few left to drop another: the fit is not within the limits. (Waiving the
            # outlier test here accepted 6-detection linkages of two objects whose residuals
            # reached 10-46 σ.)
            status = "rms_too_high"
            break
        used = trial
    return OrbitFit(epoch_mjd_tdb, state, covariance, res[:, 0], res[:, 1], used, rms, chi2,
                    status)
