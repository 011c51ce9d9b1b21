"""Heliocentric distance hypotheses for the HelioLinC3D search: files and built-in grids.

A hypothesis file (HelioLinC3D's format) has one header line starting with ``#`` and then one
hypothesis per line, three whitespace-separated numbers::

    #r(AU) rdot(AU/day) mean_accel
    1.5 -0.0180575 0.583402

``r`` is the heliocentric distance (AU) and ``rdot`` its rate of change (AU/day) at the search's
reference epoch; ``mean_accel`` is the radial acceleration r̈ in units of −GM☉/r² (1 for a
purely Keplerian radial fall with no angular momentum, ~0 for a circular orbit). On a 2-body
orbit of semi-latus rectum p = a(1 − e²), r̈ = h²/r³ − GM☉/r² with h² = GM☉ p, so
mean_accel = 1 − p/r: −e at perihelion, +e at aphelion, as the bundled HelioLinC3D grids have.

Built-in grids (:func:`hypothesis_grid`)
---------------------------------------
A grid covers the orbits of a population (:data:`POPULATIONS`: ranges of a, e and q) at the
heliocentric distances where a survey sees it. Its spacing follows how wrong a hypothesis may be
before one object's tracklets stop clustering, which scales with the topocentric distance of the
object (the clustering radius does): at distance r from the Sun, seen from ~1 AU, that distance
is at least d(r) = max(|r − 1 AU|, ``d_min_au``), and

* r steps by ``R_STEP`` · d(r): a constant error δr moves tracklets seen in directions u(t) by
  δr·Δu, which must stay well inside the radius (0.06 · d(r) is the spacing of HelioLinC3D's
  main-belt grids, e.g. ``mb_213``);
* ṙ in cells of ``RDOT_STEP_PER_DAY`` · d(r): a linear error in r(t) is absorbed by the
  propagation (it only changes the fitted velocity), so the tolerance is set by the change of
  direction over the arc (0.0072 d(r) AU/day is again ``mb_213``'s spacing);
* r̈ in cells of ``RDDOT_STEP_PER_DAY2`` · d(r): an error δr̈ displaces tracklets a week from
  the reference epoch by ½ δr̈ (7 d)²; a hypothesis half a cell off moves the first and last
  nights of a 14-night window by up to ~90 % of the default clustering radius, and single
  linkage through the nights in between absorbs that (100 % of the benchmark's NEOs link).

For every r of the grid, orbits of the population are sampled on a dense (a, e) lattice; those
that reach r (q ≤ r ≤ Q) give (±ṙ, r̈); each occupied (ṙ, r̈) cell contributes one hypothesis, the
mean of its samples (so every hypothesis lies within the population's own (ṙ, r̈) region, and
the grid is deterministic).
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from ephemerides.constants import GM_SUN_AU3_PER_DAY2
from ephemerides.errors import InputError

COLUMNS = ("r_au", "rdot_au_per_day", "mean_accel")

R_STEP = 0.06
RDOT_STEP_PER_DAY = 0.0072
RDDOT_STEP_PER_DAY2 = 5.0e-5
# Samples of the (a, e) lattice per population and distance.
LATTICE_A = 240
LATTICE_E = 120


@dataclass(frozen=True)
class Population:
    """Orbits a built-in grid covers, and the heliocentric distances searched, AU."""

    a_min_au: float
    a_max_au: float
    e_max: float
    q_min_au: float
    q_max_au: float
    r_min_au: float
    r_max_au: float
    d_min_au: float


POPULATIONS = {
    # Near-Earth objects: q < 1.3 AU (the NEO definition), a up to Jupiter-family comets;
    # seen from 0.6 AU (twilight fields) to 3 AU (beyond, an LSST-detectable NEO is a
    # kilometre-sized object, found by the main-belt grid as well).
    "neo": Population(0.55, 6.0, 0.95, 0.0, 1.3, 0.6, 3.0, 0.5),
    # Main belt with Hungarias, Cybeles and Hildas: q > 1.3 AU, a 1.7-4.2 AU, e < 0.4.
    "mb": Population(1.7, 4.2, 0.4, 1.3, 6.0, 1.3, 5.0, 0.5),
    # Near-Earth objects close to the Earth (the fast movers that trail; searched with trail
    # tracklets alone, :attr:`linking.LinkingConfig.trail_hypotheses`): the NEO orbits at 0.6-1.5
    # AU from the Sun, with the spacing for a topocentric distance down to 0.15 AU (d(r) floored
    # there): ~10⁵ hypotheses. On 138 real NEAs seen once per night at 2-20°/day over 15 nights
    # (trails known to 2 %), this grid with a floor of 0.5 AU (the neo grid's) puts 88 % of them
    # in a pure candidate, 0.2 AU 96 %, 0.15 AU 97 %.
    "close": Population(0.55, 6.0, 0.95, 0.0, 1.3, 0.6, 1.5, 0.15),
    # Jupiter Trojans: a 5.0-5.4 AU, e < 0.25.
    "trojan": Population(5.0, 5.4, 0.25, 3.5, 6.0, 3.7, 6.8, 0.5),
    # Trans-Neptunian objects (classical, resonant, scattered): a 30-150 AU, q > 20 AU.
    "tno": Population(30.0, 150.0, 0.8, 20.0, 150.0, 20.0, 100.0, 0.5),
}

#: What ``"all"`` searches: every population (``close`` is ``neo`` spaced more densely).
EVERY_POPULATION = ("neo", "mb", "trojan", "tno")


def read_hypotheses(path) -> pd.DataFrame:
    """Read a HelioLinC3D hypothesis file.

    Parameters
    ----------
    path : str or os.PathLike
        Text file: ``#`` comment lines, then rows ``r(AU) rdot(AU/day) mean_accel``.

    Returns
    -------
    pandas.DataFrame
        ``r_au`` (AU, > 0), ``rdot_au_per_day`` (AU/day), ``mean_accel`` (units of −GM☉/r²),
        float64, in file order.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When a line does not hold three finite numbers or ``r`` is not positive; the message
        names the file, the line and the column.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"hypothesis file {path} not found")
    rows = []
    with path.open() as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            fields = text.split()
            if len(fields) != 3:
                raise InputError(
                    f"{path}, line {number}: expected 3 columns ({' '.join(COLUMNS)}), "
                    f"got {len(fields)}: {text!r}"
                )
            values = []
            for column, field in zip(COLUMNS, fields, strict=True):
                try:
                    value = float(field)
                except ValueError:
                    raise InputError(
                        f"{path}, line {number}, column {column!r}: {field!r} is not a number"
                    ) from None
                if not np.isfinite(value):
                    raise InputError(
                        f"{path}, line {number}, column {column!r}: {field!r} is not finite"
                    )
                values.append(value)
            if values[0] <= 0.0:
                raise InputError(
                    f"{path}, line {number}, column 'r_au': heliocentric distance must be > 0 AU;"
                    f" got {values[0]}"
                )
            rows.append(values)
    if not rows:
        raise InputError(f"{path}: no hypotheses found (only comments or blank lines)")
    return pd.DataFrame(np.array(rows, dtype=np.float64), columns=list(COLUMNS))


def _distances(pop: Population) -> np.ndarray:
    """Grid of r from ``r_min_au`` to past ``r_max_au`` with steps R_STEP · d(r)."""
    values = [pop.r_min_au]
    while values[-1] < pop.r_max_au:
        r = values[-1]
        values.append(r + R_STEP * max(abs(r - 1.0), pop.d_min_au))
    return np.array(values)


@cache
def _population_grid(name: str) -> np.ndarray:
    """(r, ṙ, mean_accel) rows of one population's grid (computed once per process: ``close``
    takes seconds; read-only)."""
    pop = POPULATIONS[name]
    a = np.geomspace(pop.a_min_au, pop.a_max_au, LATTICE_A)
    e = np.linspace(0.0, pop.e_max, LATTICE_E)
    a, e = (v.ravel() for v in np.meshgrid(a, e, indexing="ij"))
    q = a * (1.0 - e)
    keep = (q >= pop.q_min_au) & (q <= pop.q_max_au)
    a, e, q = a[keep], e[keep], q[keep]
    p = a * (1.0 - e * e)
    rows = []
    for r in _distances(pop):
        reach = (q <= r) & (r <= a * (1.0 + e))
        if not reach.any():
            continue
        pr, ar = p[reach], a[reach]
        speed = np.sqrt(np.maximum(GM_SUN_AU3_PER_DAY2 * (2.0 / r - 1.0 / ar - pr / r**2), 0.0))
        rdot = np.concatenate((speed, -speed))
        rddot = np.tile(GM_SUN_AU3_PER_DAY2 * (pr / r - 1.0) / r**2, 2)
        d = max(abs(r - 1.0), pop.d_min_au)
        cells = np.column_stack((np.floor(rdot / (RDOT_STEP_PER_DAY * d)),
                                 np.floor(rddot / (RDDOT_STEP_PER_DAY2 * d)))).astype(np.int64)
        _, cell, count = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
        cell = cell.ravel()
        mean_rdot = np.bincount(cell, rdot) / count
        mean_rddot = np.bincount(cell, rddot) / count
        accel = -mean_rddot * r**2 / GM_SUN_AU3_PER_DAY2
        rows.append(np.column_stack((np.full(count.size, r), mean_rdot, accel)))
    grid = np.concatenate(rows)
    grid.flags.writeable = False
    return grid


def hypothesis_grid(spec: str) -> pd.DataFrame:
    """Built-in hypothesis grid for one or more populations.

    Parameters
    ----------
    spec : str
        Population names of :data:`POPULATIONS` joined by ``+``, e.g. ``"mb+neo"``, ``"all"``
        for :data:`EVERY_POPULATION` (``close`` is a denser part of ``neo``, for trail
        tracklets). The method is in this module's docstring.

    Returns
    -------
    pandas.DataFrame
        ``r_au, rdot_au_per_day, mean_accel`` as :func:`read_hypotheses` returns, sorted by
        (r, ṙ, mean_accel), without duplicate rows.

    Raises
    ------
    ValueError
        When a name is not a known population.
    """
    names = list(EVERY_POPULATION) if spec == "all" else spec.split("+")
    unknown = [name for name in names if name not in POPULATIONS]
    if unknown or not names:
        raise InputError(
            f"unknown hypothesis grid {spec!r}: use population names "
            f"{sorted(POPULATIONS)} joined by '+', or 'all'"
        )
    rows = np.unique(np.concatenate([_population_grid(n) for n in names]), axis=0)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def is_grid_name(spec) -> bool:
    """Whether ``spec`` names a built-in grid: population names joined by ``+``, or ``"all"``."""
    return isinstance(spec, str) and (spec == "all" or all(
        name in POPULATIONS for name in spec.split("+")))


def load_hypotheses(spec) -> pd.DataFrame:
    """A built-in grid (:func:`hypothesis_grid`) by name, or a hypothesis file by path.

    Parameters
    ----------
    spec : str or os.PathLike
        Population names joined by ``+`` (or ``"all"``), or the path of a hypothesis file.
    """
    if is_grid_name(spec):
        return hypothesis_grid(spec)
    return read_hypotheses(spec)
