"""The C++ HelioLinC3D (PyPI ``heliolinx`` 0.0.2) as a side-by-side peer for the benchmarks.

Benchmark-only: no runtime package imports this module, and ``heliolinx`` is imported inside
:func:`run_heliolinx`, so the module imports (for a script's ``--help``) without it. The peer
lives in its own environment (``.venv-peers``: ``pip install heliolinx==0.0.2 "numpy<2"``, with
this project installed editable); its pybind11 bindings predate NumPy 2 and return corrupted
arrays under it.

:func:`run_heliolinx` turns a DiaSource-style table into heliolinx's input arrays (detections
sorted by time and observatory, one image per (time, observatory) with the observer's
heliocentric state), runs ``makeTracklets``, ``heliolinc`` and ``linkPurify`` with their
output to the C-level stdout discarded, checks every returned array (heliolinx reports a failed
stage only by returning empty or mistyped arrays) and maps the clusters back to
``diaSourceId``. All of it runs in a forked worker process, because ``heliolinc`` 0.0.2
segfaults instead of returning when no cluster survives; a crash becomes a RuntimeError. The
Earth ephemeris and observatory table are heliolinx's own files in
``../shared/peers/heliolinx``.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from ephemerides.photometry import ab_magnitude
from linking import read_hypotheses

PEER_DATA = Path(__file__).resolve().parents[2] / "shared" / "peers" / "heliolinx"
EARTH_EPHEMERIS = PEER_DATA / "Earth1day2020s_02a.csv"
OBSERVATORY_CODES = PEER_DATA / "ObsCodesNew.txt"
DEFAULT_OBSCODE = "X05"
DEFAULT_MAG = 20.0
DEFAULT_SIGMAG = 0.1
DEFAULT_BAND = "r"
IMAGE_RADIUS_DEG = 2.0
STAGES = ("prepare", "tracklets", "heliolinc", "purify", "total")


@dataclass
class PeerResult:
    """What one :func:`run_heliolinx` call found, and what it cost.

    Attributes
    ----------
    linkages : pandas.DataFrame
        ``linkage_id`` (int64, 0, 1, ...) and ``diaSourceId`` (int64), one row per member
        detection of each linkage kept by ``linkPurify``.
    candidates : pandas.DataFrame
        The same for the clusters ``heliolinc`` returned, before ``linkPurify``.
    n_tracklets : int
        Tracklets made by ``makeTracklets``.
    cpu_s : dict
        CPU seconds of the worker process (``time.process_time`` differences, all threads)
        per stage: ``prepare`` (input arrays and observer states), ``tracklets``
        (``makeTracklets``), ``heliolinc``, ``purify`` (``linkPurify``) and ``total`` (the
        stages and the members tables; not the worker's start, the reading of the cached data
        files or the transfer of the result).
    wall_s : dict
        Wall-clock seconds for the same stages.
    """

    linkages: pd.DataFrame
    candidates: pd.DataFrame
    n_tracklets: int
    cpu_s: dict
    wall_s: dict


def run_heliolinx(detections: pd.DataFrame, hypotheses_path, *,
                  visits: pd.DataFrame | None = None, clustrad_km: float = 1e5,
                  max_tracklet_hours: float = 1.5, min_tracklet_s: float = 1.0,
                  max_rate_deg_per_day: float = 1.5, exptime_s: float = 30.0) -> PeerResult:
    """Link ``detections`` with HelioLinC3D: ``makeTracklets``, ``heliolinc``, ``linkPurify``.

    Parameters
    ----------
    detections : pandas.DataFrame
        ``diaSourceId`` (int64), ``midpointMjdTai`` (MJD, passed to heliolinx as given: TAI
        instead of TDB moves the observer by ~69 s of motion, negligible for linking), ``ra``,
        ``dec`` (deg); optional ``observatoryCode`` (default ``"X05"``), ``visit``, ``band``
        (default ``"r"``) and ``mag`` or ``psfFlux`` (nJy; AB ``31.4 - 2.5 log10(flux)``;
        default 20 where neither gives a finite value). Detections sharing
        (``midpointMjdTai``, ``observatoryCode``) form one image.
    hypotheses_path : str or os.PathLike
        HelioLinC3D hypothesis file (``r(AU) rdot(AU/day) mean_accel``), read with
        :func:`linking.read_hypotheses`; ``mean_accel`` goes to ``R_dubdot`` as it is, as
        HelioLinC3D's own reader stores it.
    visits : pandas.DataFrame, optional
        ``visit`` (or ``observationId``), boresight ``fieldRA``, ``fieldDec`` (deg) and
        ``visitExposureTime`` (s), matched on the detections' ``visit``. Images without a
        (finite) boresight are centred on the mean unit vector of their detections; images
        without an exposure time get ``exptime_s``.
    clustrad_km : float
        ``HeliolincConfig.clustrad``: clustering radius (km) at the reference epoch.
    max_tracklet_hours, min_tracklet_s : float
        Longest and shortest time between the detections of a tracklet
        (``MakeTrackletsConfig.maxtime``/``mintime``, which are in days).
    max_rate_deg_per_day : float
        ``MakeTrackletsConfig.maxvel``; ``minvel`` and ``minarc`` are 0.
    exptime_s : float
        ``MakeTrackletsConfig.exptime`` and the exposure time of images without one.

    Returns
    -------
    PeerResult
        Linkages after ``linkPurify``, candidates before it, the tracklet count and per-stage
        CPU and wall times. ``HeliolincConfig`` keeps its defaults (``dbscan_npt`` 3,
        ``minobsnights`` 3, ``mintimespan`` 1 day) but ``clustrad`` and ``MJDref`` (the middle
        of the detections' time span); ``LinkPurifyConfig`` keeps all of its defaults.

    Raises
    ------
    ImportError
        When ``heliolinx`` is not installed.
    RuntimeError
        When NumPy is 2 or newer, a stage returns nothing unexpectedly (no tracklets from
        detections, no clusters) or arrays of the wrong type or out of range, or heliolinx
        crashes the worker process.
    ValueError
        When a required column is missing (in ``visits``: the visit key), an observatory code is
        not in heliolinx's table, or ``visits`` is given but ``detections`` has no ``visit``
        column.
    """
    if int(np.__version__.split(".")[0]) >= 2:
        raise RuntimeError(f"heliolinx 0.0.2 needs numpy<2 (numpy {np.__version__} corrupts "
                           "its returned arrays)")
    missing = {"diaSourceId", "midpointMjdTai", "ra", "dec"} - set(detections.columns)
    if missing:
        raise ValueError(f"detections lack columns {sorted(missing)}")
    hypotheses = read_hypotheses(hypotheses_path)
    _earth_ephemeris(str(EARTH_EPHEMERIS))  # read once here; the forked worker inherits them
    _observatories(str(OBSERVATORY_CODES))
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("fork")) as pool:
        future = pool.submit(_link, detections, hypotheses, visits, clustrad_km=clustrad_km,
                             max_tracklet_hours=max_tracklet_hours,
                             min_tracklet_s=min_tracklet_s,
                             max_rate_deg_per_day=max_rate_deg_per_day, exptime_s=exptime_s)
        try:
            return future.result()
        except BrokenProcessPool as error:
            raise RuntimeError(
                "heliolinx crashed the worker process (heliolinc 0.0.2 segfaults when it finds "
                f"no cluster, for one; {len(detections)} detections over "
                f"{np.ptp(detections['midpointMjdTai'].to_numpy()):.2f} days)") from error


def _link(detections: pd.DataFrame, hypotheses: pd.DataFrame, visits: pd.DataFrame | None, *,
          clustrad_km: float, max_tracklet_hours: float, min_tracklet_s: float,
          max_rate_deg_per_day: float, exptime_s: float) -> PeerResult:
    """The body of :func:`run_heliolinx`, run in a forked worker process: input arrays, the
    three heliolinx stages with their checks, and the members tables."""
    import heliolinx.heliolinx as hl

    cpu = dict.fromkeys(STAGES, 0.0)
    wall = dict.fromkeys(STAGES, 0.0)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    ids = detections["diaSourceId"].to_numpy(np.int64)
    if ids.size == 0:
        empty = _members(np.empty(0, np.int64), np.empty(0, np.int64))
        return PeerResult(empty, empty.copy(), 0, cpu, wall)

    with _stage("prepare", cpu, wall), _quiet_stdout():
        det = _detection_array(detections)
        img = _image_array(det, detections, visits, exptime_s)
        radhyp = np.zeros(len(hypotheses), dtype=_sdg().hlradhyp)
        radhyp["HelioRad"] = hypotheses["r_au"].to_numpy()
        radhyp["R_dot"] = hypotheses["rdot_au_per_day"].to_numpy()
        radhyp["R_dubdot"] = hypotheses["mean_accel"].to_numpy()

    tracklet_config = hl.MakeTrackletsConfig()
    tracklet_config.maxtime = max_tracklet_hours / 24.0
    tracklet_config.mintime = min_tracklet_s / 86400.0
    tracklet_config.maxvel = max_rate_deg_per_day
    tracklet_config.minvel = 0.0
    tracklet_config.minarc = 0.0
    tracklet_config.imagerad = IMAGE_RADIUS_DEG
    tracklet_config.exptime = exptime_s
    with _stage("tracklets", cpu, wall), _quiet_stdout():
        pairdets, tracklets, trk2det = hl.makeTracklets(tracklet_config, det, img)
    _check("makeTracklets pairdets", pairdets, ("index", "idstring"))
    _check("makeTracklets tracklets", tracklets, ("Img1", "Img2", "npts"))
    _check("makeTracklets trk2det", trk2det, ("i1", "i2"), len(tracklets), len(pairdets))
    if len(tracklets) == 0:
        raise RuntimeError(f"makeTracklets made no tracklets from {len(det)} detections in "
                           f"{len(img)} images (failed, or no pairs within "
                           f"{min_tracklet_s} s..{max_tracklet_hours} h and "
                           f"{max_rate_deg_per_day} deg/day)")
    rows = _input_rows(pairdets, det)

    helio_config = hl.HeliolincConfig()
    helio_config.clustrad = clustrad_km
    helio_config.MJDref = 0.5 * (det["MJD"][0] + det["MJD"][-1])
    with _stage("heliolinc", cpu, wall), _quiet_stdout():
        clusters, clust2det = hl.heliolinc(helio_config, img, pairdets, tracklets, trk2det,
                                           radhyp, _earth_ephemeris(str(EARTH_EPHEMERIS)))
    _check("heliolinc clusters", clusters, ("clusternum",))
    _check("heliolinc clust2det", clust2det, ("i1", "i2"), len(clusters), len(pairdets))
    if len(clusters) == 0:
        raise RuntimeError(f"heliolinc returned no clusters from {len(tracklets)} tracklets")

    with _stage("purify", cpu, wall), _quiet_stdout():
        purified, purified2det = hl.linkPurify(hl.LinkPurifyConfig(), img, pairdets, clusters,
                                               clust2det)
    _check("linkPurify clusters", purified, ("clusternum",))
    _check("linkPurify clust2det", purified2det, ("i1", "i2"), len(purified), len(pairdets))
    linkages = _members(purified2det["i1"], ids[rows[purified2det["i2"]]])
    candidates = _members(clust2det["i1"], ids[rows[clust2det["i2"]]])
    cpu["total"] = time.process_time() - cpu0
    wall["total"] = time.perf_counter() - wall0
    return PeerResult(linkages, candidates, len(tracklets), cpu, wall)


def _sdg():
    """heliolinx's Python helpers (dtypes, file readers), imported on first use."""
    import heliolinx.solarsyst_dyn_geo as sdg

    return sdg


@cache
def _earth_ephemeris(path: str) -> np.ndarray:
    """heliolinx's daily heliocentric Earth state table (EarthState array), read once."""
    return _sdg().load_earth_ephemerides(path)


@cache
def _observatories(path: str) -> dict[str, tuple[float, float, float]]:
    """Observatory code -> (east longitude deg, rho cos phi', rho sin phi'), read once; codes
    without a ground position (space telescopes, blank columns) are left out."""
    return {code.strip(): (float(lon), float(cos), float(sin))
            for code, lon, cos, sin in _sdg().read_ObsCodes(path)
            if lon.strip() and cos.strip() and sin.strip()}


@contextmanager
def _stage(name: str, cpu: dict, wall: dict):
    """Add the CPU and wall seconds of the ``with`` body to ``cpu[name]`` and ``wall[name]``."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        yield
    finally:
        cpu[name] += time.process_time() - cpu0
        wall[name] += time.perf_counter() - wall0


@contextmanager
def _quiet_stdout():
    """Send the process's C-level stdout (fd 1) to /dev/null for the ``with`` body.

    heliolinx's C++ writes thousands of lines to ``std::cout`` whatever its ``verbose``
    setting; C's buffers are flushed before fd 1 is restored so none of it leaks out later.
    """
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        libc.fflush(None)
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)


def _detection_array(detections: pd.DataFrame) -> np.ndarray:
    """heliolinx ``hldet`` array of ``detections``, sorted by (MJD, obscode).

    ``index`` is the detection's row in ``detections`` and ``image`` its image's position in
    the (MJD, obscode) order that :func:`_image_array` uses.
    """
    n = len(detections)
    obscode = _column(detections, "observatoryCode", DEFAULT_OBSCODE)
    mjd = detections["midpointMjdTai"].to_numpy(np.float64)
    order = np.lexsort((obscode, mjd))
    det = np.zeros(n, dtype=_sdg().hldet)
    det["MJD"] = mjd[order]
    det["RA"] = detections["ra"].to_numpy(np.float64)[order]
    det["Dec"] = detections["dec"].to_numpy(np.float64)[order]
    det["mag"] = _magnitudes(detections)[order]
    det["sigmag"] = DEFAULT_SIGMAG
    ids = detections["diaSourceId"].to_numpy(np.int64)[order]
    det["idstring"] = ids.astype(det.dtype["idstring"])
    det["band"] = _column(detections, "band", DEFAULT_BAND)[order]
    det["obscode"] = obscode[order]
    det["index"] = order
    det["image"] = np.cumsum(_image_starts(det)) - 1
    return det


def _column(frame: pd.DataFrame, name: str, default: str) -> np.ndarray:
    """String column ``name`` of ``frame`` with missing values as ``default``, or all
    ``default`` without the column."""
    if name not in frame.columns:
        return np.full(len(frame), default)
    values = frame[name]
    return np.where(values.notna().to_numpy(), values.to_numpy(dtype=object), default).astype(str)


def _magnitudes(detections: pd.DataFrame) -> np.ndarray:
    """``mag``, or AB magnitudes from ``psfFlux`` (nJy), with 20 where neither is finite."""
    if "mag" in detections.columns:
        mag = detections["mag"].to_numpy(np.float64)
    elif "psfFlux" in detections.columns:
        mag = ab_magnitude(detections["psfFlux"].to_numpy(np.float64))
    else:
        mag = np.full(len(detections), np.nan)
    return np.where(np.isfinite(mag), mag, DEFAULT_MAG)


def _image_starts(det: np.ndarray) -> np.ndarray:
    """True where a sorted detection array starts a new (MJD, obscode) image."""
    starts = np.ones(len(det), dtype=bool)
    starts[1:] = (det["MJD"][1:] != det["MJD"][:-1]) | (det["obscode"][1:] != det["obscode"][:-1])
    return starts


def _image_array(det: np.ndarray, detections: pd.DataFrame, visits: pd.DataFrame | None,
                 exptime_s: float) -> np.ndarray:
    """heliolinx ``hlimage`` array: one row per (MJD, obscode) of the sorted ``det``.

    The boresight and exposure time come from ``visits`` where it has them for the image's
    first detection's visit; otherwise the centre is the normalised mean unit vector of the
    image's detections and the exposure time ``exptime_s``. The observer's heliocentric
    position (km) and velocity (km/s) come from ``heliolinx.observer_vel``.
    """
    import heliolinx.heliolinx as hl

    observatories = _observatories(str(OBSERVATORY_CODES))
    earth = _earth_ephemeris(str(EARTH_EPHEMERIS))
    start = np.flatnonzero(_image_starts(det))
    end = np.append(start[1:], len(det))
    img = np.zeros(len(start), dtype=_sdg().hlimage)
    img["MJD"] = det["MJD"][start]
    img["obscode"] = det["obscode"][start]
    img["startind"] = start
    img["endind"] = end
    ra, dec = np.radians(det["RA"]), np.radians(det["Dec"])
    unit = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=1)
    centre = np.add.reduceat(unit, start, axis=0)
    img["RA"] = np.degrees(np.arctan2(centre[:, 1], centre[:, 0])) % 360.0
    img["Dec"] = np.degrees(np.arctan2(centre[:, 2], np.hypot(centre[:, 0], centre[:, 1])))
    img["exptime"] = exptime_s
    if visits is not None:
        _apply_visits(img, visits, detections, det["index"][start])
    for i, code in enumerate(img["obscode"].astype(str)):
        if code not in observatories:
            raise ValueError(f"observatory code {code!r} is not in {OBSERVATORY_CODES.name}")
        state = hl.observer_vel(float(img["MJD"][i]), *observatories[code], earth)
        if len(state) != 6:
            raise RuntimeError(f"observer_vel returned {len(state)} values for {code} at "
                               f"MJD {img['MJD'][i]}")
        for field, value in zip(("X", "Y", "Z", "VX", "VY", "VZ"), state, strict=True):
            img[field][i] = value
    return img


def _apply_visits(img: np.ndarray, visits: pd.DataFrame, detections: pd.DataFrame,
                  first_rows: np.ndarray) -> None:
    """Set ``img``'s RA, Dec and exptime from ``visits`` for the visit of each image's first
    detection (``first_rows``: positions in ``detections``), where finite."""
    if "visit" not in detections.columns:
        raise ValueError("visits given, but detections have no 'visit' column")
    key = "visit" if "visit" in visits.columns else "observationId"
    if key not in visits.columns:
        raise ValueError("visits need a 'visit' or 'observationId' column")
    table = visits.drop_duplicates(key).set_index(key)
    image_visits = detections["visit"].to_numpy()[first_rows]
    for column, field in (("fieldRA", "RA"), ("fieldDec", "Dec"),
                          ("visitExposureTime", "exptime")):
        if column in table.columns:
            value = table[column].reindex(image_visits).to_numpy(np.float64)
            img[field] = np.where(np.isfinite(value), value, img[field])


def _check(what: str, array, fields: tuple[str, ...], n_groups: int | None = None,
           n_dets: int | None = None) -> None:
    """Raise RuntimeError unless ``array`` is a structured array with ``fields`` and, for an
    (i1, i2) map, i1 < ``n_groups`` and i2 < ``n_dets`` (heliolinx returns failures as empty
    or mistyped arrays, without raising)."""
    names = getattr(getattr(array, "dtype", None), "names", None) or ()
    if not isinstance(array, np.ndarray) or not set(fields) <= set(names):
        raise RuntimeError(f"{what}: expected a structured array with fields {fields}, got "
                           f"{type(array).__name__} with fields {names}")
    if n_groups is not None and len(array) and (
            array["i1"].min() < 0 or array["i1"].max() >= n_groups
            or array["i2"].min() < 0 or array["i2"].max() >= n_dets):
        raise RuntimeError(f"{what}: indices out of range ({n_groups} groups, {n_dets} "
                           "detections)")


def _input_rows(pairdets: np.ndarray, det: np.ndarray) -> np.ndarray:
    """Positions in the input table of ``pairdets``, checked against their ``idstring``.

    ``makeTracklets`` replaces ``index`` by the detection's position in the array it was given
    (``det``, sorted), whose own ``index`` holds the input row.
    """
    position = pairdets["index"].astype(np.int64)
    if len(position) and (position.min() < 0 or position.max() >= len(det)):
        raise RuntimeError("makeTracklets pairdets: 'index' out of range of the detections")
    if not np.array_equal(det["idstring"][position], pairdets["idstring"]):
        raise RuntimeError("makeTracklets pairdets: 'index' and 'idstring' disagree")
    return det["index"][position]


def _members(cluster: np.ndarray, dia_source_id: np.ndarray) -> pd.DataFrame:
    """One row per (linkage, detection), linkages renumbered 0, 1, ... in heliolinx's order."""
    members = pd.DataFrame({"cluster": np.asarray(cluster, dtype=np.int64),
                            "diaSourceId": np.asarray(dia_source_id, dtype=np.int64)})
    members = members.drop_duplicates()
    linkage_id = np.unique(members["cluster"].to_numpy(), return_inverse=True)[1]
    return pd.DataFrame({"linkage_id": linkage_id.astype(np.int64),
                         "diaSourceId": members["diaSourceId"].to_numpy()})
