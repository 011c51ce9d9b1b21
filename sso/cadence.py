"""Survey cadences: visit tables read from OpSim output or generated LSST-like from a seed.

Visit table schema (one row per exposure, OpSim names; rows sorted by ``observationStartMJD``):

=======================  =======  =================================================================
column                   dtype    meaning
=======================  =======  =================================================================
``observationId``        int64    visit identifier (>= 0), the DiaSource ``visit``
``observationStartMJD``  float64  start of the exposure, MJD in TAI
``visitTime``            float64  total visit time (s)
``visitExposureTime``    float64  open-shutter time (s); midpoint = start + exposure / 2
``filter``               string   band: u, g, r, i, z or y
``seeingFwhmGeom``       float64  geometric PSF FWHM (arcsec)
``seeingFwhmEff``        float64  effective PSF FWHM for noise (arcsec)
``fiveSigmaDepth``       float64  point-source 5-sigma limiting magnitude (AB mag)
``fieldRA``, ``fieldDec``  float64  boresight (deg)
``rotSkyPos``            float64  sky rotation angle (deg), see :mod:`sso.footprint`
=======================  =======  =================================================================
"""


import numpy as np
import pandas as pd

from ephemerides.errors import InputError
from ephemerides.schemas import VISIT
from ephemerides.tablefiles import read_table_file

VISIT_COLUMNS = tuple(column.name for column in VISIT.columns)
BANDS = next(column.choices for column in VISIT.columns if column.name == "filter")

# Median single-visit 5-sigma depths (AB mag, 30 s) of LSST, Ivezić et al. 2019 (ApJ 873, 111),
# Table 2 ("m5" row) — the synthetic cadence scatters around them.
M5_MEDIAN = {"u": 23.9, "g": 25.0, "r": 24.7, "i": 24.0, "z": 23.3, "y": 22.1}
# Filters of the synthetic asteroid-oriented pairs (u is rarely used near opposition).
_SYNTHETIC_BANDS = ("g", "r", "i", "z", "y")
_SYNTHETIC_BAND_WEIGHTS = (0.15, 0.3, 0.3, 0.15, 0.1)
_VISIT_TIME_S = 34.0  # 30 s exposure + readout and slew of neighbouring fields (OpSim median)
_EXPOSURE_S = 30.0
_FIELD_SPACING_DEG = 3.0  # grid spacing of the synthetic fields (1.75 deg radius -> small gaps)
_NIGHT_START_FRACTION = 0.99  # 23:45 UTC: astronomical twilight at Cerro Pachón, roughly


def night_of(mjd_tai) -> np.ndarray:
    """Night number of each time: ``floor(MJD - 0.5)``, so a night runs noon to noon UTC.

    A Chilean night (about 23:00 to 10:00 UTC) never straddles a boundary.
    """
    return np.floor(np.asarray(mjd_tai, dtype=np.float64) - 0.5).astype(np.int64)


def visit_midpoints(visits: pd.DataFrame) -> np.ndarray:
    """Exposure midpoints (MJD TAI): ``observationStartMJD + visitExposureTime / 2`` (s -> day)."""
    return (visits["observationStartMJD"].to_numpy(np.float64)
            + visits["visitExposureTime"].to_numpy(np.float64) / 2.0 / 86400.0)


def validate_visits(visits: pd.DataFrame) -> pd.DataFrame:
    """The visit table in the Visit schema's types (:data:`ephemerides.schemas.VISIT`), with
    exactly its columns, sorted by start time.

    Raises
    ------
    InputError
        Naming the missing columns, or the rows whose values are not allowed (and what is);
        also for a table without visits.
    """
    table = VISIT.check(visits, "visit table")
    if len(table) == 0:
        raise InputError("visit table is empty")
    table = table.loc[:, list(VISIT_COLUMNS)]
    return table.sort_values(["observationStartMJD", "observationId"], kind="stable",
                             ignore_index=True)


def read_visits(path, nights=None, region=None) -> pd.DataFrame:
    """Read an OpSim-style visit table (Parquet or CSV), optionally a few nights or a sky region.

    Parameters
    ----------
    path : str or Path
        ``.parquet`` or ``.csv`` file with the columns of :data:`VISIT_COLUMNS`.
    nights : int, sequence of int, or None
        Keep these night numbers (:func:`night_of`); an int ``n`` keeps the first ``n`` nights
        that have visits.
    region : tuple (ra_deg, dec_deg, radius_deg) or None
        Keep visits whose boresight lies within ``radius_deg`` of ``(ra_deg, dec_deg)``.

    Returns
    -------
    pandas.DataFrame
        The visit table (schema in this module's docstring).
    """
    table = validate_visits(read_table_file(path, "visit file"))
    if region is not None:
        ra0, dec0, radius = (float(v) for v in region)
        _, _, cos_c = _gnomonic_cos(table, ra0, dec0)
        table = table[cos_c >= np.cos(np.deg2rad(radius))]
    if nights is not None:
        night = night_of(table["observationStartMJD"].to_numpy())
        keep = np.unique(night)[: int(nights)] if np.isscalar(nights) else np.asarray(nights)
        table = table[np.isin(night, keep)]
    if len(table) == 0:
        raise InputError(f"no visits of {path} are left after selecting nights={nights!r}, "
                         f"region={region!r}")
    return table.reset_index(drop=True)


def _gnomonic_cos(table, ra0, dec0):
    from sso.footprint import gnomonic

    return gnomonic(table["fieldRA"].to_numpy(), table["fieldDec"].to_numpy(), ra0, dec0)


def opposition_radec(mjd: float) -> tuple[float, float]:
    """RA, Dec (deg) of the anti-solar point on the ecliptic at ``mjd`` (about 0.01 deg).

    The Sun's mean longitude and anomaly from the Astronomical Almanac's low-precision formulae
    (valid 1950-2050 to 0.01 deg).
    """
    n = mjd - 51544.5
    mean_longitude = 280.460 + 0.9856474 * n
    anomaly = np.deg2rad(357.528 + 0.9856003 * n)
    sun_longitude = mean_longitude + 1.915 * np.sin(anomaly) + 0.020 * np.sin(2 * anomaly)
    lam = np.deg2rad(sun_longitude + 180.0)
    eps = np.deg2rad(23.439281)
    ra = np.rad2deg(np.arctan2(np.cos(eps) * np.sin(lam), np.cos(lam))) % 360.0
    dec = np.rad2deg(np.arcsin(np.sin(eps) * np.sin(lam)))
    return float(ra), float(dec)


def check_seed(seed) -> int:
    """A random seed, checked: a non-negative integer (what numpy's generators take)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed must be a non-negative integer; got {seed!r}")
    return int(seed)


def synthetic_cadence(seed: int, nights: int = 1, start_mjd: float = 61000.0,
                      center=None, fields_ra: int = 10, fields_dec: int = 5,
                      first_visit_id: int = 0) -> pd.DataFrame:
    """An LSST-like cadence of visit pairs on a grid of fields, generated from ``seed``.

    Every night each field is visited twice in the same filter, 20-40 minutes apart (uniform),
    in blocks of at most 35 fields (34 s per visit, so a block takes <= 20 min and its second
    pass starts after the first ends). Per visit: effective seeing log-normal with median 0.8"
    and log-scatter 0.2 (Cerro Pachón's site median, LSST SRD), geometric FWHM
    ``0.822 FWHM_eff + 0.052`` (OpSim's relation), 5-sigma depth the band's median of
    :data:`M5_MEDIAN` degraded by ``1.25 log10(FWHM_eff / 0.8)`` with 0.15 mag of Gaussian
    scatter (sky brightness), ``rotSkyPos`` uniform in [0, 360) deg.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same table.
    nights : int
        Number of consecutive nights.
    start_mjd : float
        MJD (TAI); the first night is the first to start (at 23:45 UTC) at or after it.
    center : tuple (ra_deg, dec_deg) or None
        Centre of the field grid; default the opposition point at ``start_mjd``, where most
        asteroids are found.
    fields_ra, fields_dec : int
        Grid of fields (3 deg spacing) along RA and Dec.
    first_visit_id : int
        ``observationId`` of the first visit; the rest follow consecutively.

    Returns
    -------
    pandas.DataFrame
        The visit table (schema in this module's docstring).
    """
    if nights < 1 or fields_ra < 1 or fields_dec < 1:
        raise InputError(f"nights, fields_ra and fields_dec must be >= 1; got {nights}, "
                         f"{fields_ra}, {fields_dec}")
    rng = np.random.default_rng(check_seed(seed))
    ra0, dec0 = opposition_radec(start_mjd) if center is None else (float(c) for c in center)
    dec = dec0 + _FIELD_SPACING_DEG * (np.arange(fields_dec) - (fields_dec - 1) / 2)
    if np.abs(dec).max() > 85:
        raise InputError(f"the field grid reaches Dec {np.abs(dec).max():.1f} deg; move center "
                         "or use fewer fields_dec (the grid is not built for the poles)")
    field_ra, field_dec = [], []
    for d in dec:
        step = _FIELD_SPACING_DEG / np.cos(np.deg2rad(d))
        field_ra.extend((ra0 + step * (np.arange(fields_ra) - (fields_ra - 1) / 2)) % 360.0)
        field_dec.extend([d] * fields_ra)
    field_ra, field_dec = np.asarray(field_ra), np.asarray(field_dec)
    n_fields = field_ra.size
    block = 35
    rows = []
    first_night = int(np.ceil(start_mjd - _NIGHT_START_FRACTION))
    for k in range(nights):
        t = first_night + k + _NIGHT_START_FRACTION  # night n runs from MJD n + 0.5 to n + 1.5
        for start in range(0, n_fields, block):
            members = np.arange(start, min(start + block, n_fields))
            gap_days = rng.uniform(20.0, 40.0) / 1440.0
            band = rng.choice(_SYNTHETIC_BANDS, p=_SYNTHETIC_BAND_WEIGHTS)
            for pass_start in (t, t + gap_days):
                times = pass_start + np.arange(members.size) * _VISIT_TIME_S / 86400.0
                for f, time in zip(members, times, strict=True):
                    rows.append((time, band, field_ra[f], field_dec[f]))
            t = t + gap_days + members.size * _VISIT_TIME_S / 86400.0
    n = len(rows)
    start_mjd_arr = np.array([r[0] for r in rows])
    band = np.array([r[1] for r in rows])
    seeing_eff = 0.8 * np.exp(0.2 * rng.standard_normal(n))
    m5 = (np.array([M5_MEDIAN[b] for b in band]) - 1.25 * np.log10(seeing_eff / 0.8)
          + 0.15 * rng.standard_normal(n))
    table = pd.DataFrame({
        "observationId": first_visit_id + np.arange(n, dtype=np.int64),
        "observationStartMJD": start_mjd_arr,
        "visitTime": _VISIT_TIME_S,
        "visitExposureTime": _EXPOSURE_S,
        "filter": band,
        "seeingFwhmGeom": 0.822 * seeing_eff + 0.052,
        "seeingFwhmEff": seeing_eff,
        "fiveSigmaDepth": m5,
        "fieldRA": np.array([r[2] for r in rows]),
        "fieldDec": np.array([r[3] for r in rows]),
        "rotSkyPos": rng.uniform(0.0, 360.0, n),
    })
    return validate_visits(table)
