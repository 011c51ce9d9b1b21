"""Synthetic Solar System populations drawn from a seed, as orbit tables in the project's schema.

Each class draws heliocentric ecliptic J2000 Keplerian elements (format ``KEP``) and an absolute
magnitude. The shapes are deliberately simple approximations of the observed (debiased)
distributions, good enough for realistic rates of motion, brightness and sky density in tests
and benchmarks — not for population science:

==========  ==================================================================================
class       distributions (source of the approximate shape)
==========  ==================================================================================
``mba``     a uniform in 2.1-3.3 AU; e Rayleigh(0.08) below 0.35; i Rayleigh(7 deg) below 35 deg
            (MPCORB numbered main belt: median e ~0.14, i ~ 6-8 deg). H power law with
            slope alpha = 0.30 over 14-20 (Jedicke & Metcalfe 1998 find alpha ~0.3 for
            main-belt H ~ 13-18).
``neo``     a log-normal, median 1.7 AU and log-scatter 0.3, within 0.6-4.2 AU; q uniform in
            0.3 AU-min(1.3 AU, a); e = 1 - q/a; i Rayleigh(13 deg) below 60 deg (Bottke et al.
            2002, Granvik et al. 2018: most NEOs have a 1-3 AU and i < 30 deg). H power law
            alpha = 0.35 over 16-24 (Harris & D'Abramo 2015: alpha 0.33-0.35).
``trojan``  a normal(5.20, 0.05) AU; e Rayleigh(0.05) below 0.2; i Rayleigh(12 deg) below
            40 deg; mean longitude Jupiter's ± 60 deg (L4/L5 equally) with 15 deg Gaussian
            libration (Jewitt et al. 2000, Emery et al. 2015). H power law alpha = 0.45 over
            11-16 (Wong & Brown 2015, bright end).
``hilda``   a normal(3.97, 0.04) AU within 3.7-4.2 (the 3:2 resonance with Jupiter); e
            Rayleigh(0.15) below 0.3; i Rayleigh(8 deg) below 25 deg (Brož & Vokrouhlický
            2008: e 0.1-0.3, i < 20 deg for most); resonant phases are not modelled. H power
            law alpha = 0.35 over 13-19 (Terai & Yoshida 2018 find a slope near 0.35 over H
            14-17).
``tno``     60 % classical (a uniform 42-47 AU, e Rayleigh(0.05), i Rayleigh(3 deg) cold or
            15 deg hot, half each), 25 % plutinos (a normal(39.4, 0.2) AU, e uniform 0.1-0.3,
            i Rayleigh(10 deg)), 15 % scattered (q uniform 30-40 AU, a uniform 50-100 AU, i
            Rayleigh(20 deg)) (Petit et al. 2011, CFEPS; Gladman et al. 2008). H power law
            alpha = 0.6 over 4-9 (Fraser et al. 2014: 0.5-0.9 at the bright end).
==========  ==================================================================================

Angles (node, argument of perihelion, mean anomaly) are uniform in [0, 360) deg except the
Trojans' mean anomaly, set by their longitude. An H power law ``N(<H) ∝ 10^(alpha H)`` is a
size distribution ``N(>D) ∝ D^(-5 alpha)``; it is sampled by inverting its truncated CDF.
G is 0.15 for all.
"""

import numpy as np
import pandas as pd

from ephemerides.designations import ss_object_ids
from ephemerides.errors import InputError
from ephemerides.orbits import validate_orbits
from sso.cadence import check_seed

# New classes go at the end: each class draws from the child generator of its position.
POPULATION_CLASSES = ("mba", "neo", "trojan", "tno", "hilda")
_PREFIX = {"mba": "M", "neo": "N", "trojan": "J", "tno": "T", "hilda": "H"}
_H_LAW = {"mba": (0.30, 14.0, 20.0), "neo": (0.35, 16.0, 24.0), "trojan": (0.45, 11.0, 16.0),
          "tno": (0.6, 4.0, 9.0), "hilda": (0.35, 13.0, 19.0)}
_MAX_PER_CLASS = 10**7


def _power_law_h(rng, n, alpha, h_min, h_max):
    """Samples of H with ``dN/dH ∝ 10^(alpha H)`` on [h_min, h_max] (inverse CDF)."""
    lo, hi = 10.0 ** (alpha * h_min), 10.0 ** (alpha * h_max)
    return np.log10(lo + rng.uniform(size=n) * (hi - lo)) / alpha


def _rayleigh_below(rng, n, scale, limit):
    """Rayleigh samples of ``scale`` truncated to < ``limit`` by inverse CDF."""
    top = 1.0 - np.exp(-0.5 * (limit / scale) ** 2)
    return scale * np.sqrt(-2.0 * np.log1p(-rng.uniform(size=n) * top))


def _jupiter_mean_longitude_deg(epoch_mjd_tdb):
    """Jupiter's mean longitude (deg, ecliptic J2000), Standish's approximate elements."""
    centuries = (epoch_mjd_tdb - 51544.5) / 36525.0
    return 34.39644051 + 3034.74612775 * centuries


def _elements(cls, rng, n, epoch_mjd_tdb):
    """(a_au, e, inc_deg, node_deg, argperi_deg, mean_anomaly_deg) arrays of one class."""
    node = rng.uniform(0.0, 360.0, n)
    argperi = rng.uniform(0.0, 360.0, n)
    mean_anomaly = rng.uniform(0.0, 360.0, n)
    if cls == "mba":
        a = rng.uniform(2.1, 3.3, n)
        e = _rayleigh_below(rng, n, 0.08, 0.35)
        inc = _rayleigh_below(rng, n, 7.0, 35.0)
    elif cls == "neo":
        a = np.clip(1.7 * np.exp(0.3 * rng.standard_normal(n)), 0.6, 4.2)
        q = rng.uniform(0.3, 1.0, n) * (np.minimum(1.3, a) - 0.3) + 0.3
        e = 1.0 - q / a
        inc = _rayleigh_below(rng, n, 13.0, 60.0)
    elif cls == "trojan":
        a = rng.normal(5.20, 0.05, n)
        e = _rayleigh_below(rng, n, 0.05, 0.2)
        inc = _rayleigh_below(rng, n, 12.0, 40.0)
        camp = np.where(rng.uniform(size=n) < 0.5, 60.0, -60.0)
        longitude = (_jupiter_mean_longitude_deg(epoch_mjd_tdb) + camp
                     + rng.normal(0.0, 15.0, n))
        mean_anomaly = (longitude - node - argperi) % 360.0
    elif cls == "hilda":
        a = np.clip(rng.normal(3.97, 0.04, n), 3.7, 4.2)
        e = _rayleigh_below(rng, n, 0.15, 0.3)
        inc = _rayleigh_below(rng, n, 8.0, 25.0)
    else:
        kind = rng.uniform(size=n)
        classical, plutino = kind < 0.6, (kind >= 0.6) & (kind < 0.85)
        scattered = ~(classical | plutino)
        a = np.where(classical, rng.uniform(42.0, 47.0, n), rng.normal(39.4, 0.2, n))
        e = np.where(classical, _rayleigh_below(rng, n, 0.05, 0.2), rng.uniform(0.1, 0.3, n))
        cold = rng.uniform(size=n) < 0.5
        inc = np.where(classical, np.where(cold, _rayleigh_below(rng, n, 3.0, 15.0),
                                           _rayleigh_below(rng, n, 15.0, 45.0)),
                       _rayleigh_below(rng, n, 10.0, 40.0))
        a_scattered = rng.uniform(50.0, 100.0, n)
        q_scattered = rng.uniform(30.0, 40.0, n)
        a = np.where(scattered, a_scattered, a)
        e = np.where(scattered, 1.0 - q_scattered / a_scattered, e)
        inc = np.where(scattered, _rayleigh_below(rng, n, 20.0, 60.0), inc)
    return a, e, inc, node, argperi, mean_anomaly


def synthetic_population(counts, seed: int, epoch_mjd_tdb: float = 61000.0) -> pd.DataFrame:
    """A synthetic population as an orbit table (format KEP), reproducible from ``seed``.

    Parameters
    ----------
    counts : int or dict
        Objects per class, ``{"mba": 800, "neo": 100, "trojan": 50, "tno": 50, "hilda": 20}``;
        an int ``n`` splits ``n`` as 85 % main belt, 5 % NEO, 5 % Trojans, 5 % TNO (rounded,
        remainder to the main belt).
    seed : int
        Seed of ``numpy.random.default_rng``; each class draws from its own child generator,
        so changing one class's count leaves the others unchanged.
    epoch_mjd_tdb : float
        Osculating epoch of every orbit (MJD TDB); choose it near the simulated nights so that
        propagation is short.

    Returns
    -------
    pandas.DataFrame
        Orbit table as :func:`ephemerides.read_orbits` returns it (see :mod:`ephemerides.orbits`),
        with ``object_id`` ``<letter><7 digits>`` (M main belt, N NEO, J Trojan, T TNO,
        H Hilda).
    """
    if isinstance(counts, dict):
        unknown = set(counts) - set(POPULATION_CLASSES)
        if unknown:
            raise InputError(f"unknown population classes {sorted(unknown)}; "
                             f"use {POPULATION_CLASSES}")
        counts = {c: int(counts.get(c, 0)) for c in POPULATION_CLASSES}
    else:
        n = int(counts)
        small = {c: round(0.05 * n) for c in ("neo", "trojan", "tno")}
        counts = {"mba": n - sum(small.values()), **small, "hilda": 0}
    if any(v < 0 or v > _MAX_PER_CLASS for v in counts.values()) or sum(counts.values()) == 0:
        raise InputError(f"population counts must be 0-{_MAX_PER_CLASS} per class and not all "
                         f"zero; got {counts}")
    children = np.random.default_rng(check_seed(seed)).spawn(len(POPULATION_CLASSES))
    parts = []
    for cls, rng in zip(POPULATION_CLASSES, children, strict=True):
        n = counts[cls]
        if n == 0:
            continue
        a, e, inc, node, argperi, mean_anomaly = _elements(cls, rng, n, epoch_mjd_tdb)
        parts.append(pd.DataFrame({
            "object_id": [f"{_PREFIX[cls]}{i:07d}" for i in range(n)],
            "format": "KEP",
            "a_au": a, "e": e, "inc_deg": inc, "node_deg": node, "argperi_deg": argperi,
            "mean_anomaly_deg": mean_anomaly % 360.0,
            "epoch_mjd_tdb": float(epoch_mjd_tdb),
            "H": _power_law_h(rng, n, *_H_LAW[cls]),
            "G": 0.15,
        }))
    table = pd.concat(parts, ignore_index=True)
    table.insert(1, "ssObjectId", ss_object_ids(table["object_id"].to_numpy()))
    validate_orbits(table)
    return table


def field_population(counts: dict, center_radec_deg, half_width_deg: float,
                     epoch_mjd_tdb: float, seed: int, templates: dict | None = None,
                     observatory_code: str = "X05",
                     batch: int = 200_000) -> tuple[pd.DataFrame, dict]:
    """Objects that lie in one sky box at one epoch: a population for a survey field.

    Each object keeps the orbit shape (a, e, i, argument of perihelion) of its class — drawn as
    in :func:`synthetic_population`, or picked from ``templates`` — with the node and the mean
    anomaly drawn uniformly until its 2-body astrometric position seen from the site at
    ``epoch_mjd_tdb`` falls in the box (gnomonic coordinates within ±tan(``half_width_deg``) of
    the centre). Trojans re-phased this way lose their L4/L5 clustering.

    Parameters
    ----------
    counts : dict
        Objects per class of :data:`POPULATION_CLASSES`.
    center_radec_deg : (float, float)
        Centre of the box, ICRF RA and Dec (deg).
    half_width_deg : float
        Half-width of the box (deg).
    epoch_mjd_tdb : float
        Epoch of the placement and of the orbits (MJD TDB).
    seed : int
        Seed; each class draws from its own child generator.
    templates : dict, optional
        Per class, an (n, 4) array of (a AU, e, inc deg, argperi deg) to pick shapes from
        (e.g. a real catalogue's); classes absent use the synthetic shapes.
    observatory_code : str
        Site the box is seen from.
    batch : int
        Orbits drawn per trial batch.

    Returns
    -------
    orbits : pandas.DataFrame
        Orbit table (format KEP) with ``object_id`` ``<letter><7 digits>`` as in
        :func:`synthetic_population` and an H from the class's power law.
    drawn : dict
        Orbits drawn per class to find them (the box's share of the class is count / drawn).
    """
    from ephemerides import ephemeris, observer_states
    from ephemerides.elements import ecliptic_to_equatorial, keplerian_to_cartesian
    from sso.footprint import gnomonic

    unknown = set(counts) - set(POPULATION_CLASSES)
    if unknown:
        raise InputError(f"unknown population classes {sorted(unknown)}; use {POPULATION_CLASSES}")
    ra0, dec0 = (float(v) for v in center_radec_deg)
    limit = np.tan(np.deg2rad(half_width_deg))
    observer = observer_states(observatory_code, [epoch_mjd_tdb], origin="sun")[0, :3]

    def in_box(ra, dec, scale):
        xi, eta, cos_c = gnomonic(ra, dec, ra0, dec0)
        return (cos_c > 0) & (np.abs(xi) <= scale * limit) & (np.abs(eta) <= scale * limit)

    # Geometric pre-cut (no light time) with a margin of 0.5 deg, then the exact ephemeris.
    margin = np.tan(np.deg2rad(half_width_deg + 0.5)) / limit
    children = dict(zip(POPULATION_CLASSES, np.random.default_rng(check_seed(seed)).spawn(
        len(POPULATION_CLASSES)), strict=True))
    parts, drawn = [], {}
    for cls in POPULATION_CLASSES:
        n, rng = int(counts.get(cls, 0)), children[cls]
        if n <= 0:
            continue
        kept, drawn[cls] = [], 0
        while sum(len(k) for k in kept) < n:
            if templates is not None and cls in templates:
                shapes = np.asarray(templates[cls], dtype=np.float64)
                a, e, inc, argperi = shapes[rng.integers(0, len(shapes), batch)].T
            else:
                a, e, inc, _, argperi, _ = _elements(cls, rng, batch, epoch_mjd_tdb)
            node = rng.uniform(0.0, 360.0, batch)
            mean_anomaly = rng.uniform(0.0, 360.0, batch)
            drawn[cls] += batch
            helio = ecliptic_to_equatorial(keplerian_to_cartesian(
                a, e, inc, node, argperi, mean_anomaly))
            topo = helio[:, :3] - observer
            ra = np.rad2deg(np.arctan2(topo[:, 1], topo[:, 0])) % 360.0
            dec = np.rad2deg(np.arcsin(topo[:, 2] / np.linalg.norm(topo, axis=1)))
            near = np.flatnonzero(in_box(ra, dec, margin))
            if near.size == 0:
                continue
            trial = pd.DataFrame({
                "object_id": [f"c{i}" for i in range(near.size)],
                "ssObjectId": np.arange(near.size, dtype=np.int64), "format": "KEP",
                "a_au": a[near], "e": e[near], "inc_deg": inc[near], "node_deg": node[near],
                "argperi_deg": argperi[near], "mean_anomaly_deg": mean_anomaly[near],
                "epoch_mjd_tdb": float(epoch_mjd_tdb), "H": 15.0, "G": 0.15,
            })
            eph = ephemeris(trial, [epoch_mjd_tdb], observatory_code=observatory_code,
                            time_scale="tdb", method="2body")
            eph = eph.set_index("object_id").loc[trial["object_id"]]
            kept.append(trial[in_box(eph["ra_deg"].to_numpy(), eph["dec_deg"].to_numpy(), 1.0)])
        part = pd.concat(kept, ignore_index=True).iloc[:n].copy()
        part = part.drop(columns="ssObjectId")
        part["object_id"] = [f"{_PREFIX[cls]}{i:07d}" for i in range(n)]
        part["H"] = _power_law_h(rng, n, *_H_LAW[cls])
        parts.append(part)
    if not parts:
        raise InputError(f"population counts must not all be zero; got {counts}")
    table = pd.concat(parts, ignore_index=True)
    table.insert(1, "ssObjectId", ss_object_ids(table["object_id"].to_numpy()))
    validate_orbits(table)
    return table, drawn
