"""Initial orbit determination from three angular observations: Gauss's method.

Method
------
Given three astrometric directions L₁, L₂, L₃ (unit vectors from RA/Dec) seen at times
t₁ < t₂ < t₃ from heliocentric observer positions R₁, R₂, R₃, the object's heliocentric
positions are rᵢ = Rᵢ + ρᵢ Lᵢ with unknown topocentric distances ρᵢ. Because the three positions
of a Keplerian orbit are coplanar, r₂ = c₁ r₁ + c₃ r₃ with c₁ = g₃/(f₁g₃ − f₃g₁),
c₃ = −g₁/(f₁g₃ − f₃g₁), where fᵢ, gᵢ are the Lagrange coefficients carrying (r₂, v₂) to tᵢ.

1. *Classical Gauss* (Curtis 2014, *Orbital Mechanics for Engineering Students*, §5.10,
   algorithm 5.5; Danby 1988, *Fundamentals of Celestial Mechanics*, §7.3; Milani & Gronchi 2010,
   *Theory of Orbit Determination*, §9.1): with τ₁ = t₁ − t₂, τ₃ = t₃ − t₂, τ = t₃ − t₁, the
   f and g series truncated after the μ/r³ term, the cross products p₁ = L₂×L₃, p₂ = L₁×L₃,
   p₃ = L₁×L₂, D₀ = L₁·p₁ and Dᵢⱼ = Rᵢ·pⱼ, the middle distance is ρ₂ = A + μB/r₂³ with

       A = (−D₁₂ τ₃/τ + D₂₂ + D₃₂ τ₁/τ) / D₀,
       B = (D₁₂ (τ₃² − τ²) τ₃/τ + D₃₂ (τ² − τ₁²) τ₁/τ) / (6 D₀),

   and r₂² = ρ₂² + 2ρ₂E + R₂² (E = R₂·L₂) turns into Gauss's 8th-degree equation

       r₂⁸ + a r₂⁶ + b r₂³ + c = 0,   a = −(A² + 2AE + R₂²),  b = −2μB(A + E),  c = −μ²B²,

   solved with :func:`numpy.roots`. ρ₁ and ρ₃ follow from Curtis's eqs. (5.113) and (5.114).
2. *Roots.* Every real root r₂ > 0 is tried (Descartes' rule of signs allows at most three
   positive ones; Charlier's theory says when two are physical). A root is kept when it gives
   ρ₁, ρ₂, ρ₃ all above :data:`MIN_RANGE_AU`. This rejects the *spurious root*: the observer
   itself moves on a nearly Keplerian orbit, so r₂ ≈ |R₂| with ρ₂ ≈ 0 almost solves the equation
   (Milani & Gronchi §9.1.1). Its ρ₂ is of the size of the observer's departure from a conic
   (the Moon's pull, the site's diurnal motion): ~1e-3 AU in tests with a ground site. No
   heliocentric conic describes an object that close anyway: 0.01 AU is the radius of the
   Earth's Hill sphere, inside which the Earth, not the Sun, governs the motion.
3. *First velocity.* From the three positions: Gibbs's method when the positions are more than
   :data:`HERRICK_GIBBS_MAX_DEG` apart, Herrick–Gibbs's otherwise, where Gibbs's
   cross products lose their digits (Vallado 2013, *Fundamentals of Astrodynamics and
   Applications*, algorithms 54 and 55).
4. *Refinement* (Curtis algorithm 5.6, with exact coefficients). The truncated series are good
   to O((τ/P)⁴) only, i.e. poor over arcs of weeks. One Gauss step M maps x = (ρ₁, ρ₂, ρ₃, v₂)
   to new values: the exact f, g of (r₂ = R₂ + ρ₂L₂, v₂) come from propagating that state with
   the project's universal-variable Kepler step
   (:func:`ephemerides._kepler_kernels.propagate_pairs`) to t₁ and t₃ and projecting the
   results on r₂ and v₂; the linear system c₁ρ₁L₁ − ρ₂L₂ + c₃ρ₃L₃ = R₂ − c₁R₁ − c₃R₃ gives new
   distances, and v₂ = (f₁r₃ − f₃r₁)/(f₁g₃ − f₃g₁) a new velocity. The exact solution is a fixed
   point of M. Curtis iterates M itself, but that fixed point can repel (an NEO 1.4 AU away at
   60° elongation diverges by a factor ~2.6 per step), so x = M(x) is solved by Newton's method
   instead, with a forward-difference Jacobian (relative steps :data:`FD_REL_STEP`) and steps
   halved while they leave the domain (a distance below :data:`MIN_RANGE_AU`). It stops when
   the distances change by less than :data:`RANGE_RTOL` (relative) or after ``max_iterations``.
   A root whose refinement breaks down (singular system, non-finite values) keeps its classical
   solution, still a usable start for a least-squares fit. Two roots that refine to the same
   orbit are returned once.

Light time
----------
The directions are astrometric: light seen at tᵢ left the object at tᵢ − ρᵢ/c. With
``light_time=True`` every refinement step uses the emission times tᵢ − ρᵢ/c (from the current
ρᵢ) in place of tᵢ, in τ₁, τ₃ and in the Kepler steps, while the observer stays at its position
at reception; the polynomial step, where ρᵢ are not yet known, uses the reception times. The
light path is heliocentric (the Sun's own motion during the light time, ≲ 1e-7 AU, is ignored).

Result
------
Each candidate is the heliocentric ICRF state at the middle observation's reception time t₂
*exactly* (the state found at the emission time t₂ − ρ₂/c is propagated forward by ρ₂/c), so
that every candidate of a triplet has the same epoch. The candidates are sorted by the
heliocentric distance at t₂. Gauss's method is exact only for noise-free data on a 2-body orbit;
fit each candidate to all the detections with :func:`linking.orbitfit.fit_orbit` and keep the one
with the lowest chi².
"""

import numpy as np

from ephemerides._kepler_kernels import propagate_pairs
from ephemerides.constants import C_AU_PER_DAY, GM_SUN_AU3_PER_DAY2
from ephemerides.errors import InputError
from ephemerides.twobody import checked_mu

# Smallest acceptable topocentric distance, AU: the Earth's Hill radius (rejects the spurious
# root ρ₂ ≈ 0; see the module docstring).
MIN_RANGE_AU = 1e-2
# |D₀| = |L₁·(L₂×L₃)| at or below which the three directions count as coplanar with the
# observer (no unique solution). Rounding in D₀ is ~1e-16; a 2-day NEO arc has D₀ ~ 2e-7.
DEGENERATE_D0 = 1e-13
# Largest angle between successive positions for which Herrick–Gibbs replaces Gibbs (degrees).
HERRICK_GIBBS_MAX_DEG = 3.0
# Relative tolerance on imaginary parts when deciding that a root of the polynomial is real.
REAL_ROOT_RTOL = 1e-8
# Refinement converged once the distances change by less than this (relative).
RANGE_RTOL = 1e-13
# Relative step of the finite-difference Jacobian of the refinement's Newton iteration.
FD_REL_STEP = 1e-7
# Smallest separation of two observation times, days (the f,g coefficients need distinct times).
MIN_TIME_SEPARATION_DAYS = 1e-3


def _unit_vectors(ra_rad: np.ndarray, dec_rad: np.ndarray) -> np.ndarray:
    cos_dec = np.cos(dec_rad)
    return np.column_stack((cos_dec * np.cos(ra_rad), cos_dec * np.sin(ra_rad), np.sin(dec_rad)))


def _three(values, name: str, unit: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (3,):
        raise InputError(f"{name} must hold exactly three values ({unit}); got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InputError(f"{name} has NaN or infinite values ({arr.tolist()}); all must be finite")
    return arr


def _check_inputs(t_tdb, ra_rad, dec_rad, observer_helio_au, max_iterations):
    t = _three(t_tdb, "t_tdb", "MJD TDB")
    ra = _three(ra_rad, "ra_rad", "radians")
    dec = _three(dec_rad, "dec_rad", "radians")
    observer = np.asarray(observer_helio_au, dtype=np.float64)
    if observer.shape != (3, 3):
        raise InputError(
            "observer_helio_au must have shape (3, 3): one heliocentric ICRF position (AU) per "
            f"observation; got shape {observer.shape}"
        )
    if not np.isfinite(observer).all():
        raise InputError("observer_helio_au has NaN or infinite values; all must be finite")
    if np.any(np.diff(t) < MIN_TIME_SEPARATION_DAYS):
        raise InputError(
            f"t_tdb must be strictly increasing, at least {MIN_TIME_SEPARATION_DAYS} day apart; "
            f"got {t.tolist()} (sort the observations, or pick three distinct times)"
        )
    if np.any(np.abs(dec) > 0.5 * np.pi):
        raise InputError(f"dec_rad must lie in [-pi/2, pi/2] (radians); got {dec.tolist()}")
    if not (isinstance(max_iterations, int | np.integer) and max_iterations >= 0):
        raise InputError(f"max_iterations must be an integer >= 0; got {max_iterations!r}")
    return t, ra, dec, np.ascontiguousarray(observer)


def _gibbs(r1, r2, r3, mu):
    """Velocity at r2 from three coplanar positions (Vallado 2013, algorithm 54)."""
    n1, n2, n3 = np.linalg.norm(r1), np.linalg.norm(r2), np.linalg.norm(r3)
    c12, c23, c31 = np.cross(r1, r2), np.cross(r2, r3), np.cross(r3, r1)
    big_n = n1 * c23 + n2 * c31 + n3 * c12
    big_d = c12 + c23 + c31
    big_s = (n2 - n3) * r1 + (n3 - n1) * r2 + (n1 - n2) * r3
    scale = np.sqrt(mu / (np.linalg.norm(big_n) * np.linalg.norm(big_d)))
    return scale * (np.cross(big_d, r2) / n2 + big_s)


def _herrick_gibbs(r1, r2, r3, t1, t2, t3, mu):
    """Velocity at r2 from three closely spaced positions (Vallado 2013, algorithm 55)."""
    dt21, dt31, dt32 = t2 - t1, t3 - t1, t3 - t2
    n1, n2, n3 = np.linalg.norm(r1), np.linalg.norm(r2), np.linalg.norm(r3)
    return (-dt32 * (1.0 / (dt21 * dt31) + mu / (12.0 * n1**3)) * r1
            + (dt32 - dt21) * (1.0 / (dt21 * dt32) + mu / (12.0 * n2**3)) * r2
            + dt21 * (1.0 / (dt32 * dt31) + mu / (12.0 * n3**3)) * r3)


def _angle_deg(a, b) -> float:
    return float(np.rad2deg(np.arctan2(np.linalg.norm(np.cross(a, b)), a @ b)))


def _first_velocity(r, times, mu):
    """Gibbs or Herrick–Gibbs velocity at r[1] (choice by the angles between positions)."""
    widest = max(_angle_deg(r[0], r[1]), _angle_deg(r[1], r[2]))
    if widest < HERRICK_GIBBS_MAX_DEG:
        return _herrick_gibbs(r[0], r[1], r[2], *times, mu)
    return _gibbs(r[0], r[1], r[2], mu)


def _exact_fg(r2, v2, tau1, tau3, mu):
    """Exact Lagrange coefficients (f₁, g₁, f₃, g₃) of (r₂, v₂) for steps τ₁ and τ₃.

    The state is propagated with the universal-variable Kepler step, and each propagated
    position r = f r₂ + g v₂ is projected on the orbital plane's basis (r₂, v₂).
    """
    states = np.tile(np.concatenate((r2, v2)), (2, 1))
    propagate_pairs(states, np.array([tau1, tau3]), mu, states)
    h = np.cross(r2, v2)
    h2 = h @ h
    r1, r3 = states[0, :3], states[1, :3]
    f1, g1 = np.cross(r1, v2) @ h / h2, np.cross(r2, r1) @ h / h2
    f3, g3 = np.cross(r3, v2) @ h / h2, np.cross(r2, r3) @ h / h2
    return f1, g1, f3, g3


def _classical_ranges(r2, coeffs, mu):
    """ρ₁, ρ₂, ρ₃ of Curtis's eqs. (5.112)–(5.114) for a root r₂ of Gauss's polynomial."""
    big_a, big_b, d, d0, tau1, tau3, tau = coeffs
    r23 = r2**3
    rho2 = big_a + mu * big_b / r23
    rho1 = ((6.0 * (d[2, 0] * tau1 / tau3 + d[1, 0] * tau / tau3) * r23
             + mu * d[2, 0] * (tau**2 - tau1**2) * tau1 / tau3)
            / (6.0 * r23 + mu * (tau**2 - tau3**2)) - d[0, 0]) / d0
    rho3 = ((6.0 * (d[0, 2] * tau3 / tau1 - d[1, 2] * tau / tau1) * r23
             + mu * d[0, 2] * (tau**2 - tau3**2) * tau3 / tau1)
            / (6.0 * r23 + mu * (tau**2 - tau1**2)) - d[2, 2]) / d0
    return np.array([rho1, rho2, rho3])


def _step(x, los, observer, t, mu, light_time):
    """One Gauss step with exact f, g: the map M of x = (ρ₁, ρ₂, ρ₃, v₂) whose fixed point solves
    the Gauss equations exactly. Returns M(x), or None when it cannot be evaluated."""
    rho, v2 = x[:3], x[3:]
    times = t - rho / C_AU_PER_DAY if light_time else t
    r2 = observer[1] + rho[1] * los[1]
    f1, g1, f3, g3 = _exact_fg(r2, v2, times[0] - times[1], times[2] - times[1], mu)
    det = f1 * g3 - f3 * g1
    c1, c3 = g3 / det, -g1 / det
    matrix = np.column_stack((c1 * los[0], -los[1], c3 * los[2]))
    rhs = observer[1] - c1 * observer[0] - c3 * observer[2]
    try:
        new_rho = np.linalg.solve(matrix, rhs)
    except np.linalg.LinAlgError:
        return None
    r = observer + new_rho[:, None] * los
    out = np.concatenate((new_rho, (f1 * r[2] - f3 * r[0]) / det))
    return out if np.isfinite(out).all() else None


def _acceptable(x) -> bool:
    return x is not None and bool((x[:3] > MIN_RANGE_AU).all())


def _refine(rho, los, observer, t, mu, light_time, max_iterations):
    """Solve x = M(x) (see :func:`_step`) by Newton's method from the ranges ``rho``.

    Returns ``(r2, v2, t2_emission)``, or ``None`` when the iteration breaks down.
    """
    r = observer + rho[:, None] * los
    times = t - rho / C_AU_PER_DAY if light_time else t.copy()
    x = np.concatenate((rho, _first_velocity(r, times, mu)))
    for _ in range(max_iterations):
        mapped = _step(x, los, observer, t, mu, light_time)
        if not _acceptable(mapped):
            return None
        residual = mapped - x
        if np.max(np.abs(residual[:3])) <= RANGE_RTOL * np.max(x[:3]):
            x = mapped
            break
        # Jacobian of the residual M(x) − x by forward differences.
        steps = FD_REL_STEP * np.concatenate((x[:3], np.full(3, np.linalg.norm(x[3:]))))
        jacobian = np.empty((6, 6))
        for j in range(6):
            trial = x.copy()
            trial[j] += steps[j]
            moved = _step(trial, los, observer, t, mu, light_time)
            if moved is None:
                return None
            jacobian[:, j] = (moved - trial - residual) / steps[j]
        try:
            delta = np.linalg.solve(jacobian, -residual)
        except np.linalg.LinAlgError:
            return None
        # Halve the step while it leaves the domain (a range below MIN_RANGE_AU, no finite map).
        for _ in range(30):
            if _acceptable(x + delta) and _step(x + delta, los, observer, t, mu,
                                                light_time) is not None:
                break
            delta *= 0.5
        else:
            return None
        x = x + delta
    rho, v2 = x[:3], x[3:]
    t_emit = t[1] - rho[1] / C_AU_PER_DAY if light_time else t[1]
    return observer[1] + rho[1] * los[1], v2, t_emit


def gauss_orbits(t_tdb, ra_rad, dec_rad, observer_helio_au, mu=GM_SUN_AU3_PER_DAY2,
                 light_time=True, max_iterations=10) -> list[tuple[float, np.ndarray]]:
    """Candidate orbits through three astrometric observations, by Gauss's method.

    The method, the choice of roots and the light-time model are described in the module
    docstring.

    Parameters
    ----------
    t_tdb : array_like, shape (3,)
        Observation (reception) times, MJD TDB, strictly increasing, ≥ 1e-3 day apart.
    ra_rad, dec_rad : array_like, shape (3,)
        Astrometric ICRF right ascension and declination, radians.
    observer_helio_au : array_like, shape (3, 3)
        Heliocentric ICRF position of the observer at each time, AU.
    mu : float, optional
        Gravitational parameter of the central body, AU³/day² (default: GM_sun of DE440).
    light_time : bool, optional
        Correct the observation times to the emission times tᵢ − ρᵢ/c (default True).
    max_iterations : int, optional
        Refinement steps with exact f and g (0: the classical Gauss solution with a
        Gibbs/Herrick–Gibbs velocity). Default 10.

    Returns
    -------
    list of (float, numpy.ndarray)
        One ``(epoch_mjd_tdb, state)`` per acceptable root, ``epoch_mjd_tdb`` being ``t_tdb[1]``
        and ``state`` the heliocentric ICRF state (6,) at that epoch (AU, AU/day); sorted by
        heliocentric distance. Empty when no root is acceptable, including degenerate geometry
        (the three lines of sight coplanar with the observer, D₀ ≈ 0).

    Raises
    ------
    ValueError
        On wrong shapes, non-finite values, times not increasing, ``|dec| > π/2``, a bad ``mu``
        or ``max_iterations``.
    """
    t, ra, dec, observer = _check_inputs(t_tdb, ra_rad, dec_rad, observer_helio_au,
                                         max_iterations)
    mu = checked_mu(mu)
    los = _unit_vectors(ra, dec)
    tau1, tau3 = t[0] - t[1], t[2] - t[1]
    tau = t[2] - t[0]
    p = np.stack((np.cross(los[1], los[2]), np.cross(los[0], los[2]), np.cross(los[0], los[1])))
    d0 = float(los[0] @ p[0])
    if abs(d0) <= DEGENERATE_D0:
        return []
    d = observer @ p.T  # d[i, j] = R_i · p_j
    big_a = (-d[0, 1] * tau3 / tau + d[1, 1] + d[2, 1] * tau1 / tau) / d0
    big_b = (d[0, 1] * (tau3**2 - tau**2) * tau3 / tau
             + d[2, 1] * (tau**2 - tau1**2) * tau1 / tau) / (6.0 * d0)
    e = float(observer[1] @ los[1])
    r_obs2 = float(observer[1] @ observer[1])
    a = -(big_a**2 + 2.0 * big_a * e + r_obs2)
    b = -2.0 * mu * big_b * (big_a + e)
    c = -(mu * big_b) ** 2
    roots = np.roots([1.0, 0.0, a, 0.0, 0.0, b, 0.0, 0.0, c])
    real = roots[np.abs(roots.imag) <= REAL_ROOT_RTOL * np.abs(roots)].real
    coeffs = (big_a, big_b, d, d0, tau1, tau3, tau)

    candidates = []
    for r2 in np.unique(real[real > 0.0]):
        rho = _classical_ranges(r2, coeffs, mu)
        if not (np.isfinite(rho).all() and (rho > MIN_RANGE_AU).all()):
            continue
        refined = _refine(rho, los, observer, t, mu, light_time, max_iterations)
        if refined is None:
            refined = _refine(rho, los, observer, t, mu, light_time, 0)
        pos, vel, t_emit = refined
        state = np.concatenate((pos, vel))[None]
        if t_emit != t[1]:
            propagate_pairs(state, np.array([t[1] - t_emit]), mu, state)
        state = state[0]
        if not np.isfinite(state).all():
            continue
        if any(np.allclose(state, other, rtol=1e-9, atol=1e-12) for other in candidates):
            continue
        candidates.append(state)
    candidates.sort(key=lambda s: float(np.linalg.norm(s[:3])))
    return [(float(t[1]), s) for s in candidates]


def _pick_three(t_tdb: np.ndarray, nights: np.ndarray | None) -> np.ndarray | None:
    """Indices of the first, a middle and the last detection, or None (see initial_orbits)."""
    first, last = int(np.argmin(t_tdb)), int(np.argmax(t_tdb))
    if t_tdb[last] - t_tdb[first] < 2 * MIN_TIME_SEPARATION_DAYS:
        return None
    distinct = ((t_tdb - t_tdb[first] >= MIN_TIME_SEPARATION_DAYS)
                & (t_tdb[last] - t_tdb >= MIN_TIME_SEPARATION_DAYS))
    if not distinct.any():
        return None
    allowed = distinct
    if nights is not None:
        other_night = distinct & (nights != nights[first]) & (nights != nights[last])
        if other_night.any():
            allowed = other_night
    middle_time = 0.5 * (t_tdb[first] + t_tdb[last])
    offset = np.where(allowed, np.abs(t_tdb - middle_time), np.inf)
    return np.array([first, int(np.argmin(offset)), last])


def initial_orbits(obs, mu=GM_SUN_AU3_PER_DAY2) -> list[tuple[float, np.ndarray]]:
    """Gauss candidate orbits from three well-separated detections of a linkage.

    The detections used are the first, the last, and the one closest to the middle of the time
    span among those at least 1e-3 day from both ends, preferring one on a night other than
    the ends' nights. The observer's heliocentric position is ``obs.observer − obs.sun``.

    Parameters
    ----------
    obs : linking.orbitfit.Observations
        Detections of one linkage (any order).
    mu : float, optional
        Gravitational parameter, AU³/day² (default: GM_sun of DE440).

    Returns
    -------
    list of (float, numpy.ndarray)
        As :func:`gauss_orbits`: ``(epoch_mjd_tdb, heliocentric ICRF state (6,))`` at the middle
        detection's time; empty when there are fewer than three distinct times or no acceptable
        root. Fit each candidate to all the detections with
        :func:`linking.orbitfit.fit_orbit` and keep the fit with the lowest ``chi2``.
    """
    t_tdb = np.asarray(obs.t_tdb, dtype=np.float64)
    if t_tdb.ndim != 1 or t_tdb.size < 3:
        return []
    nights = getattr(obs, "nights", None)
    nights = None if nights is None or np.shape(nights) != t_tdb.shape else np.asarray(nights)
    picked = _pick_three(t_tdb, nights)
    if picked is None:
        return []
    observer = np.asarray(obs.observer)[picked, :3] - np.asarray(obs.sun)[picked, :3]
    return gauss_orbits(t_tdb[picked], np.asarray(obs.ra)[picked], np.asarray(obs.dec)[picked],
                        observer, mu=mu)
