"""Nightly ephemeris cache: per-object Chebyshev fits of the night's track plus a HEALPix index.

Every known orbit is integrated over the night (N-body,
:func:`ephemerides.propagate.propagate_states`), its topocentric light-time corrected
astrometric position is computed at Chebyshev nodes with
:func:`ephemerides.ephemeris.observables`, and the unit vector (x, y, z), the topocentric and
heliocentric ranges, the phase angle and the elongation are fitted with Chebyshev polynomials
in TAI. A HEALPix (NESTED) index of every object's whole-night track then answers "which objects
are in this field at this time, and where exactly" in milliseconds.

Degree and sub-interval policy
------------------------------
The degree is fixed (8 by default); an object whose fit misses the tolerance (1 mas by default)
at the check points — the midpoints between consecutive nodes and both ends of each
sub-interval, where a Chebyshev interpolant's error peaks — is refitted on the night split into
2, 4, 8 ... equal sub-intervals, up to ``max_segments``. The topocentric track of a night is the
heliocentric motion (nearly a great circle) plus the diurnal parallax, a sinusoid of one-day
period and amplitude 8.8″/Δ[AU]; degree 8 fits a 0.4-day night of it to ~1e-5 of that amplitude
(0.013 mas worst, 0.0002 mas median over 3,000 real NEAs), so almost every object needs one
interval, while close approaches (large parallax, fast curving tracks) get more. An object that
cannot reach the tolerance stops the build with an error naming it, never a silently bad fit.
"""

import hashlib
import json
import logging
import math
import os
import tempfile
import time
from pathlib import Path

import healpy as hp
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ephemerides import _cache_kernels as kernels
from ephemerides import spk
from ephemerides.ephemeris import observables
from ephemerides.errors import InputError
from ephemerides.observers import observer_states
from ephemerides.orbits import check_unique_object_ids
from ephemerides.photometry import hg_apparent_magnitude
from ephemerides.propagate import propagate_states
from ephemerides.provenance import __version__, schema_metadata
from ephemerides.sky import chord_length, unit_vectors
from ephemerides.timescales import convert_mjd

logger = logging.getLogger(__name__)

QUERY_COLUMNS = (
    "object_id",
    "ssObjectId",
    "ra_deg",
    "dec_deg",
    "ra_rate_deg_per_day",
    "dec_rate_deg_per_day",
    "topo_range_au",
    "helio_range_au",
    "phase_angle_deg",
    "elongation_deg",
    "v_mag",
)
FORMAT_VERSION = 1
_METADATA_KEY = b"ephemerides.nightly_cache"
# The manifest of a cache saved in parts (NightlyCache.commit_folder).
CACHE_MANIFEST = "cache.json"
_MAS_PER_RAD = 180.0 / math.pi * 3600e3
# A night longer than this is almost certainly a unit or scale mistake (days, not hours).
_MAX_NIGHT_DAYS = 2.0
# Times may sit this far outside the night (1 ms) and still be answered: float round-off of MJD.
_NIGHT_SLACK_DAYS = 1e-8
# Extra index margin, radians (1 mas): the fit error is added to it per object.
_INDEX_MARGIN_RAD = 1.0 / _MAS_PER_RAD


def orbits_checksum(orbits: pd.DataFrame) -> str:
    """SHA-256 of an orbit table's canonical bytes (hex).

    Canonical form: rows sorted by ``object_id``, columns sorted by name; numeric columns as
    little-endian float64 (int64 for integers), any other column as its ``str`` values joined
    by a unit separator. Row and column order therefore do not change the checksum; any changed
    value does.
    """
    order = np.argsort(orbits["object_id"].astype(str).to_numpy(), kind="stable")
    digest = hashlib.sha256()
    for name in sorted(map(str, orbits.columns)):
        values = orbits[name].to_numpy()[order]
        digest.update(name.encode() + b"\x1e")
        if values.dtype.kind in "iub":
            digest.update(values.astype("<i8").tobytes())
        elif values.dtype.kind == "f":
            digest.update(values.astype("<f8").tobytes())
        else:
            digest.update("\x1f".join(map(str, values)).encode())
        digest.update(b"\x1d")
    return digest.hexdigest()


def _chebyshev_nodes(degree: int) -> np.ndarray:
    """The degree + 1 Chebyshev nodes of the first kind on [-1, 1], decreasing."""
    return np.cos(np.pi * (np.arange(degree + 1) + 0.5) / (degree + 1))


def _check_points(degree: int) -> np.ndarray:
    """Midpoints between consecutive nodes and both interval ends, where the error peaks."""
    nodes = _chebyshev_nodes(degree)
    return np.concatenate([[1.0], 0.5 * (nodes[:-1] + nodes[1:]), [-1.0]])


def _chebyshev_matrix(u: np.ndarray, degree: int) -> np.ndarray:
    """T_j(u_k) for every point k and order j, shape (len(u), degree + 1)."""
    return np.cos(np.outer(np.arccos(np.clip(u, -1.0, 1.0)), np.arange(degree + 1)))



def _angle_rad(a, b) -> np.ndarray:
    """Angle between unit vectors along the last axis, accurate for tiny angles."""
    return 2.0 * np.arcsin(np.clip(0.5 * np.linalg.norm(a - b, axis=-1), 0.0, 1.0))


class NightlyCache:
    """Chebyshev fits of every object's topocentric track over one night, with a HEALPix index.

    Build with :meth:`build` or :meth:`load`; query with :meth:`query` (a cone) or
    :meth:`query_polygon` (a convex footprint); store with :meth:`save`.

    Attributes
    ----------
    objects : pandas.DataFrame
        One row per cached orbit, in the orbit table's order: ``object_id``, ``ssObjectId``,
        ``H``, ``G``, ``n_segments`` (equal sub-intervals of the night the fit uses) and
        ``fit_error_mas`` (largest position error of the fit at the check points, mas; NaN for
        an object whose propagation failed, which no query returns).
    coefficients : numpy.ndarray, float64 (n_segments_total, 7, degree + 1)
        Chebyshev coefficients per sub-interval of x, y, z (topocentric astrometric ICRF
        direction), topocentric and heliocentric range (AU), phase angle and elongation (deg),
        in TAI scaled to [-1, 1] over the sub-interval; objects in order, segments in time order.
    params : dict
        Build parameters: night, observatory, degree policy, index resolution, SPK kernels,
        package version and the orbit catalogue's SHA-256 (:func:`orbits_checksum`).
    build_seconds_ : dict
        Wall time of the build's stages (``propagation``, ``observables``, ``fit``, ``index``);
        empty for a loaded cache.
    """

    def __init__(self, objects, coefficients, pixels, pixel_counts, params, build_seconds=None):
        """Assemble a cache from its parts (use :meth:`build` or :meth:`load` instead).

        ``pixels`` holds the NESTED pixels of every object's track, object after object, and
        ``pixel_counts`` how many belong to each object.
        """
        self.objects = objects.reset_index(drop=True)
        self.coefficients = np.ascontiguousarray(coefficients, dtype=np.float64)
        self.params = dict(params)
        self.build_seconds_ = dict(build_seconds or {})
        self._n_segments = self.objects["n_segments"].to_numpy(np.int64).copy()
        self._first_segment = np.concatenate(
            [[0], np.cumsum(self._n_segments)[:-1]]).astype(np.int64)
        self._pixels = np.asarray(pixels, dtype=np.int64)
        self._pixel_counts = np.asarray(pixel_counts, dtype=np.int64)
        # Inverted index: the objects of pixel p are _pixel_objects[offsets[p]:offsets[p + 1]].
        owners = np.repeat(np.arange(self._pixel_counts.size), self._pixel_counts)
        self._pixel_objects = owners[np.argsort(self._pixels, kind="stable")]
        n_pix = hp.nside2npix(self.params["nside"])
        self._pixel_offsets = np.concatenate(
            [[0], np.cumsum(np.bincount(self._pixels, minlength=n_pix))]
        ).astype(np.int64)
        self._object_ids = self.objects["object_id"].to_numpy(dtype=object)
        self._ss_object_ids = self.objects["ssObjectId"].to_numpy(np.int64)
        self._H = self.objects["H"].to_numpy(np.float64)
        self._G = self.objects["G"].to_numpy(np.float64)

    def __reduce__(self):
        # Pickled (e.g. for a worker) as what it is made of; the index, which holds an offset
        # per HEALPix pixel of the sky (1.6 MB at nside 128), is rebuilt on arrival.
        return (type(self), (self.objects, self.coefficients, self._pixels, self._pixel_counts,
                             self.params, self.build_seconds_))

    # ------------------------------------------------------------------ build
    @classmethod
    def build(
        cls,
        orbits: pd.DataFrame,
        night_start_mjd_tai: float,
        night_end_mjd_tai: float,
        observatory_code: str = "X05",
        *,
        degree: int = 8,
        tolerance_mas: float = 1.0,
        max_segments: int = 64,
        nside: int = 128,
        chunk_size: int = 5000,
    ) -> "NightlyCache":
        """Propagate, observe, fit and index every orbit over one night.

        Parameters
        ----------
        orbits : pandas.DataFrame
            Orbit table (:func:`ephemerides.read_orbits` schema), one orbit per object.
        night_start_mjd_tai, night_end_mjd_tai : float
            The night, MJD (TAI); queries are answered within it.
        observatory_code : str
            MPC observatory code.
        degree : int
            Chebyshev degree of every fit (nodes per sub-interval: degree + 1).
        tolerance_mas : float
            Largest accepted position error of a fit at the check points, mas.
        max_segments : int
            Most sub-intervals (a power of two) an object's night may be split into.
        nside : int
            HEALPix resolution of the index (NESTED); 128 gives 0.46° pixels, a small superset
            for LSST's 1.75° fields.
        chunk_size : int
            Orbits propagated and fitted together; memory is bounded by one chunk.

        Returns
        -------
        NightlyCache

        Raises
        ------
        ValueError
            On bad arguments, or when an object's fit cannot reach ``tolerance_mas`` with
            ``max_segments`` sub-intervals (the message names the objects and their errors).
        """
        if not isinstance(orbits, pd.DataFrame) or len(orbits) == 0:
            raise InputError("orbits must be a non-empty orbit table (see ephemerides.read_orbits)")
        check_unique_object_ids(orbits)
        start, end = float(night_start_mjd_tai), float(night_end_mjd_tai)
        finite = math.isfinite(start) and math.isfinite(end)
        if not (finite and 0 < end - start <= _MAX_NIGHT_DAYS):
            raise InputError(
                f"the night must satisfy 0 < night_end_mjd_tai - night_start_mjd_tai <= "
                f"{_MAX_NIGHT_DAYS} days; got {start!r} to {end!r} (MJD, TAI)"
            )
        if int(degree) < 2 or not tolerance_mas > 0 or int(chunk_size) < 1:
            raise InputError(
                f"need degree >= 2, tolerance_mas > 0 and chunk_size >= 1; got degree={degree}, "
                f"tolerance_mas={tolerance_mas}, chunk_size={chunk_size}"
            )
        if max_segments < 1 or max_segments & (max_segments - 1):
            raise InputError(f"max_segments must be a power of two; got {max_segments}")
        if not hp.isnsideok(nside, nest=True):
            raise InputError(f"nside must be a power of two for a NESTED index; got {nside}")
        degree, chunk_size = int(degree), int(chunk_size)
        perturbers = spk.load_perturbers()
        params = {
            "format_version": FORMAT_VERSION,
            "night_start_mjd_tai": start,
            "night_end_mjd_tai": end,
            "observatory_code": str(observatory_code),
            "degree": degree,
            "tolerance_mas": float(tolerance_mas),
            "max_segments": int(max_segments),
            "nside": int(nside),
            "method": "nbody",
            "kernels": [Path(k).name for k in perturbers.kernels],
            "package_version": __version__,
            "orbits_sha256": orbits_checksum(orbits),
        }
        n = len(orbits)
        names = orbits["object_id"].astype(str).to_numpy()
        H = orbits["H"].to_numpy(np.float64)
        G = orbits["G"].to_numpy(np.float64)
        n_segments = np.zeros(n, dtype=np.int64)
        fit_error = np.full(n, np.nan)
        blocks, pixel_lists = [], [np.empty(0, np.int64)] * n
        seconds = dict.fromkeys(("propagation", "observables", "fit", "index"), 0.0)
        pending, segments = np.arange(n), 1
        while pending.size:
            grid = _NightGrid(start, end, segments, degree, observatory_code)
            accepted = []
            for first in range(0, pending.size, chunk_size):
                rows = pending[first:first + chunk_size]
                coeffs, error, track = grid.fit(orbits.iloc[rows], H[rows], G[rows], seconds)
                t0 = time.perf_counter()
                failed = ~np.isfinite(error)
                ok = failed | (error <= tolerance_mas)
                fit_error[rows] = error
                n_segments[rows[ok]] = segments
                blocks.append((rows[ok], coeffs[ok]))
                good = ok & ~failed
                for row, samples, margin in zip(rows[good], track[good], error[good], strict=True):
                    pixel_lists[row] = _track_pixels(samples, margin / _MAS_PER_RAD, nside)
                accepted.append(rows[ok])
                seconds["index"] += time.perf_counter() - t0
                if failed.any():
                    logger.warning(
                        "%d object(s) failed to propagate and are left out of the index: %s",
                        failed.sum(), ", ".join(names[rows[failed]][:10]),
                    )
            pending = np.setdiff1d(pending, np.concatenate(accepted))
            logger.info("%d sub-interval(s): %d object(s) need a finer split", segments,
                        pending.size)
            if pending.size and segments * 2 > max_segments:
                worst = ", ".join(f"{o} ({e:.3g} mas)" for o, e in
                                  zip(names[pending][:10], fit_error[pending][:10], strict=True))
                raise InputError(
                    f"{pending.size} object(s) cannot be fitted to {tolerance_mas} mas with "
                    f"{max_segments} sub-intervals of degree {degree}: {worst}. Raise "
                    f"max_segments or degree, or shorten the night."
                )
            segments *= 2
        first_segment = np.concatenate([[0], np.cumsum(n_segments)[:-1]])
        coefficients = np.empty((int(n_segments.sum()), kernels.N_QUANTITIES, degree + 1))
        for rows, coeffs in blocks:
            if rows.size:
                where = first_segment[rows][:, None] + np.arange(coeffs.shape[1])
                coefficients[where] = coeffs
        objects = pd.DataFrame({
            "object_id": orbits["object_id"].astype(str).to_numpy(),
            "ssObjectId": orbits["ssObjectId"].to_numpy(np.int64),
            "H": H,
            "G": G,
            "n_segments": n_segments,
            "fit_error_mas": fit_error,
        })
        counts = np.array([p.size for p in pixel_lists], dtype=np.int64)
        return cls(objects, coefficients, np.concatenate(pixel_lists), counts, params, seconds)

    @classmethod
    def concat(cls, parts: list, orbits: pd.DataFrame) -> "NightlyCache":
        """One cache from caches of disjoint parts of ``orbits`` built for the same night.

        The parts (e.g. built in parallel from consecutive chunks of the orbit table) must share
        every build parameter but the catalogue checksum, which becomes that of ``orbits``;
        their objects follow one another in the given order.

        Raises
        ------
        ValueError
            When the parts differ in a build parameter, or their objects are not those of
            ``orbits``.
        """
        if not parts:
            raise InputError("concat needs at least one cache")
        joined = cls._join(parts, {**parts[0].params, "orbits_sha256": orbits_checksum(orbits)})
        if not np.array_equal(joined._object_ids, orbits["object_id"].astype(str).to_numpy()):
            raise InputError("the caches' objects are not the orbit table's, in its order")
        return joined

    @classmethod
    def _join(cls, parts: list, params: dict) -> "NightlyCache":
        """The parts' objects one after another, with ``params``; build times add up.

        Every part must have been built with ``params`` but for the catalogue checksum.
        """
        expected = {k: v for k, v in params.items() if k != "orbits_sha256"}
        for part in parts:
            other = {k: v for k, v in part.params.items() if k != "orbits_sha256"}
            if other != expected:
                differ = sorted(k for k in expected.keys() | other.keys()
                                if expected.get(k) != other.get(k))
                raise InputError(f"the caches differ in their build parameters {differ}")
        objects = pd.concat([part.objects for part in parts], ignore_index=True)
        seconds = {}
        for part in parts:
            for stage, value in part.build_seconds_.items():
                seconds[stage] = seconds.get(stage, 0.0) + value
        return cls(objects, np.concatenate([part.coefficients for part in parts]),
                   np.concatenate([part._pixels for part in parts]),
                   np.concatenate([part._pixel_counts for part in parts]), params, seconds)

    # ------------------------------------------------------------------ query
    def _check_time(self, mjd_tai) -> float:
        t = float(mjd_tai)
        start, end = self.params["night_start_mjd_tai"], self.params["night_end_mjd_tai"]
        if not start - _NIGHT_SLACK_DAYS <= t <= end + _NIGHT_SLACK_DAYS:
            raise InputError(
                f"mjd_tai={t!r} is outside the cached night {start!r} to {end!r} (MJD, TAI); "
                f"build or load the cache of that night"
            )
        return t

    def _candidates(self, pixels) -> np.ndarray:
        starts, ends = self._pixel_offsets[pixels], self._pixel_offsets[pixels + 1]
        if not (ends > starts).any():
            return np.empty(0, np.int64)
        return np.unique(np.concatenate(
            [self._pixel_objects[a:b] for a, b in zip(starts, ends, strict=True) if b > a]
        ))

    def _evaluate(self, rows, t) -> np.ndarray:
        out = np.empty((rows.size, kernels.N_OUT))
        start = self.params["night_start_mjd_tai"]
        kernels.evaluate(self.coefficients, self._first_segment, self._n_segments,
                         np.ascontiguousarray(rows, dtype=np.int64), start,
                         self.params["night_end_mjd_tai"] - start, t, out)
        return out

    def _table(self, rows, values) -> pd.DataFrame:
        x, y, z = values[:, kernels.OUT_X], values[:, kernels.OUT_Y], values[:, kernels.OUT_Z]
        dx, dy = values[:, kernels.OUT_DX], values[:, kernels.OUT_DY]
        dz = values[:, kernels.OUT_DZ]
        ra = np.arctan2(y, x) % (2.0 * np.pi)
        dec = np.arcsin(np.clip(z, -1.0, 1.0))
        sin_ra, cos_ra, sin_dec = np.sin(ra), np.cos(ra), np.sin(dec)
        topo = values[:, kernels.OUT_TOPO_RANGE]
        helio = values[:, kernels.OUT_HELIO_RANGE]
        phase = values[:, kernels.OUT_PHASE]
        table = pd.DataFrame({
            "object_id": self._object_ids[rows],
            "ssObjectId": self._ss_object_ids[rows],
            "ra_deg": np.rad2deg(ra),
            "dec_deg": np.rad2deg(dec),
            "ra_rate_deg_per_day": np.rad2deg(-sin_ra * dx + cos_ra * dy),
            "dec_rate_deg_per_day": np.rad2deg(
                np.cos(dec) * dz - sin_dec * (cos_ra * dx + sin_ra * dy)
            ),
            "topo_range_au": topo,
            "helio_range_au": helio,
            "phase_angle_deg": phase,
            "elongation_deg": values[:, kernels.OUT_ELONGATION],
            "v_mag": hg_apparent_magnitude(self._H[rows], self._G[rows], helio, topo, phase),
        }, columns=list(QUERY_COLUMNS))
        return table.sort_values("object_id", kind="stable", ignore_index=True)

    def query(self, ra_deg: float, dec_deg: float, radius_deg: float,
              mjd_tai: float) -> pd.DataFrame:
        """Objects inside a cone at one time, with their positions, rates and magnitudes.

        Parameters
        ----------
        ra_deg, dec_deg : float
            Cone centre, astrometric ICRF (deg).
        radius_deg : float
            Cone radius (deg), 0 < radius <= 90.
        mjd_tai : float
            Time, MJD (TAI), within the cached night.

        Returns
        -------
        pandas.DataFrame
            Columns ``QUERY_COLUMNS``, one row per object within the cone, sorted by
            ``object_id``: astrometric ``ra_deg``, ``dec_deg``; ``ra_rate_deg_per_day``
            (dRA/dt·cos Dec) and ``dec_rate_deg_per_day`` from the fit's derivative; ranges (AU),
            phase angle and elongation (deg), ``v_mag`` (H, G system). Positions match
            :func:`ephemerides.ephemeris` within ``fit_error_mas``.
        """
        t = self._check_time(mjd_tai)
        radius = math.radians(float(radius_deg))
        if not 0 < radius <= math.pi / 2:
            raise InputError(f"radius_deg must be in (0, 90]; got {radius_deg!r}")
        centre = unit_vectors(float(ra_deg), float(dec_deg))
        pixels = hp.query_disc(self.params["nside"], centre, radius, inclusive=True, nest=True)
        rows = self._candidates(pixels)
        values = self._evaluate(rows, t)
        chord = np.linalg.norm(values[:, :3] - centre, axis=1)
        inside = chord <= chord_length(float(radius_deg))
        return self._table(rows[inside], values[inside])

    def near(self, ra_deg, dec_deg, radius_deg: float) -> "NightlyCache":
        """The cache of the objects whose indexed track reaches any of the given cones.

        Every :meth:`query` of one of these cones (same centre, radius at most ``radius_deg``)
        answers the same from the result as from this cache: a compact cache to ship to a worker
        that handles a few fields.
        """
        radius = math.radians(float(radius_deg))
        if not 0 < radius <= math.pi / 2:
            raise InputError(f"radius_deg must be in (0, 90]; got {radius_deg!r}")
        centres = unit_vectors(np.atleast_1d(np.asarray(ra_deg, np.float64)),
                               np.atleast_1d(np.asarray(dec_deg, np.float64)))
        pixels = np.unique(np.concatenate([
            hp.query_disc(self.params["nside"], c, radius, inclusive=True, nest=True)
            for c in centres]))
        rows = self._candidates(pixels)
        segments = np.concatenate([np.arange(a, a + n, dtype=np.int64) for a, n in zip(
            self._first_segment[rows], self._n_segments[rows], strict=True)]) if rows.size \
            else np.empty(0, np.int64)
        pixel_start = np.concatenate([[0], np.cumsum(self._pixel_counts)])
        own = [self._pixels[pixel_start[r]:pixel_start[r + 1]] for r in rows]
        return NightlyCache(self.objects.iloc[rows], self.coefficients[segments],
                            np.concatenate(own) if own else np.empty(0, np.int64),
                            self._pixel_counts[rows], self.params)

    def query_polygon(self, vertices_ra_deg, vertices_dec_deg, mjd_tai: float) -> pd.DataFrame:
        """Objects inside a convex spherical polygon (e.g. a detector outline) at one time.

        Parameters
        ----------
        vertices_ra_deg, vertices_dec_deg : array_like, shape (k,), k >= 3
            Vertices (deg) in order around the polygon, either sense; edges are great circles.
        mjd_tai : float
            Time, MJD (TAI), within the cached night.

        Returns
        -------
        pandas.DataFrame
            As :meth:`query`.
        """
        t = self._check_time(mjd_tai)
        ra = np.atleast_1d(np.asarray(vertices_ra_deg, dtype=np.float64))
        dec = np.atleast_1d(np.asarray(vertices_dec_deg, dtype=np.float64))
        if ra.shape != dec.shape or ra.ndim != 1 or ra.size < 3 or not np.isfinite(ra).all() \
                or not np.isfinite(dec).all():
            raise InputError(
                f"give at least 3 finite vertices as two 1-d arrays of equal length; got shapes "
                f"{ra.shape} and {dec.shape}"
            )
        vertices = unit_vectors(ra, dec)
        normals = np.cross(vertices, np.roll(vertices, -1, axis=0))
        # Convex: every vertex lies on the same side of every edge's great circle.
        sides = vertices @ normals.T
        sense = np.sign(np.sum(sides))
        if sense == 0 or (sense * sides < -1e-12).any():
            raise InputError(
                "the polygon must be convex with distinct vertices given in order around it"
            )
        pixels = hp.query_polygon(self.params["nside"], vertices, inclusive=True, nest=True)
        rows = self._candidates(pixels)
        values = self._evaluate(rows, t)
        inside = (sense * (values[:, :3] @ normals.T) >= 0.0).all(axis=1)
        return self._table(rows[inside], values[inside])

    # ------------------------------------------------------------------ storage
    def save(self, path) -> Path:
        """Write the cache to one Parquet file, atomically (temporary file, then rename).

        One row per object: the ``objects`` columns, ``coefficients`` (list of the object's
        n_segments × 7 × (degree + 1) float64) and ``healpix_pixels`` (list of NESTED pixels its
        track touches). The build parameters are JSON in the schema metadata.
        """
        path = Path(path)
        n_values = kernels.N_QUANTITIES * (self.params["degree"] + 1)
        coefficient_offsets = np.concatenate([[0], np.cumsum(self._n_segments) * n_values])
        pixel_offsets = np.concatenate([[0], np.cumsum(self._pixel_counts)])
        table = pa.Table.from_pandas(self.objects, preserve_index=False)
        table = table.append_column("coefficients", pa.LargeListArray.from_arrays(
            pa.array(coefficient_offsets.astype(np.int64)), pa.array(self.coefficients.ravel())))
        table = table.append_column("healpix_pixels", pa.LargeListArray.from_arrays(
            pa.array(pixel_offsets.astype(np.int64)),
            pa.array(self._pixels)))
        table = table.replace_schema_metadata(schema_metadata(
            {_METADATA_KEY: json.dumps(self.params).encode()},
            function="ephemerides.NightlyCache.save", settings={"cache": self.params},
            of_run=False))
        _write_atomically(path, lambda name: pq.write_table(table, name))
        return path

    def commit_folder(self, folder, part_files) -> Path:
        """Record that ``part_files`` (names in ``folder``, saved by :meth:`save`, in order) hold
        this cache's objects: writes ``folder/cache.json`` atomically, the last step of a cache
        saved in parts (e.g. one per work unit, each written by its worker).

        :meth:`load` of the folder reads the parts the manifest names; a folder without one (a
        build interrupted before its last part) is refused.
        """
        folder = Path(folder)
        counts = [int(pq.read_metadata(folder / name).num_rows) for name in part_files]
        if sum(counts) != len(self.objects):
            raise InputError(f"the parts in {folder} hold {sum(counts)} objects; the cache has "
                             f"{len(self.objects)}")
        manifest = {"params": self.params, "parts": [str(name) for name in part_files],
                    "objects": counts}
        text = json.dumps(manifest, indent=1) + "\n"
        return _write_atomically(folder / CACHE_MANIFEST,
                                 lambda name: Path(name).write_text(text, encoding="utf-8"))

    @classmethod
    def load(cls, path, orbits: pd.DataFrame | None = None, *, night_start_mjd_tai=None,
             night_end_mjd_tai=None, observatory_code=None) -> "NightlyCache":
        """Read a cache written by :meth:`save` (a file) or in parts (a folder with the
        ``cache.json`` of :meth:`commit_folder`), refusing a stale one.

        Parameters
        ----------
        path : str or Path
            The Parquet file, or the folder of parts.
        orbits : pandas.DataFrame, optional
            The orbit catalogue the cache should reflect; refused if its checksum differs.
        night_start_mjd_tai, night_end_mjd_tai, observatory_code : optional
            Expected build parameters; refused if the cache was built for others.

        Raises
        ------
        ValueError
            When the file is not a nightly cache, was written by another format version, was
            built with other SPK kernels or parameters, or for another orbit catalogue; when a
            folder has no manifest or its parts do not match it.
        """
        path = Path(path)
        if path.is_dir():
            manifest_path = path / CACHE_MANIFEST
            if not manifest_path.is_file():
                raise InputError(f"{path} holds no {CACHE_MANIFEST}: not a nightly cache folder, "
                                 "or its build was interrupted (run it again to finish it)")
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            params = manifest["params"]
        else:
            metadata = pq.read_schema(path).metadata or {}
            if _METADATA_KEY not in metadata:
                raise InputError(
                    f"{path} is not a nightly ephemeris cache (no {_METADATA_KEY.decode()} "
                    "metadata); write one with NightlyCache.save"
                )
            params = json.loads(metadata[_METADATA_KEY])
        expected = {"format_version": FORMAT_VERSION,
                    "kernels": [Path(k).name for k in spk.load_perturbers().kernels]}
        for name, value in (("night_start_mjd_tai", night_start_mjd_tai),
                            ("night_end_mjd_tai", night_end_mjd_tai),
                            ("observatory_code", observatory_code)):
            if value is not None:
                expected[name] = float(value) if name != "observatory_code" else str(value)
        if orbits is not None:
            expected["orbits_sha256"] = orbits_checksum(orbits)
        stale = {k: (params.get(k), v) for k, v in expected.items() if params.get(k) != v}
        if stale:
            details = "; ".join(f"{k}: cache has {c!r}, expected {v!r}"
                                for k, (c, v) in stale.items())
            raise InputError(
                f"stale nightly cache {path}: {details}. Rebuild it with NightlyCache.build."
            )
        if not path.is_dir():
            return cls._read(path, params)
        parts = [cls._read(path / name, json.loads(
            (pq.read_schema(path / name).metadata or {}).get(_METADATA_KEY, b"{}")))
                 for name in manifest["parts"]]
        if [len(part.objects) for part in parts] != manifest["objects"]:
            raise InputError(f"the parts in {path} do not hold the objects its {CACHE_MANIFEST} "
                             "names; build the cache again")
        return cls._join(parts, params)

    @classmethod
    def _read(cls, path: Path, params: dict) -> "NightlyCache":
        """The cache in one Parquet file, with ``params``."""
        columns = ["object_id", "ssObjectId", "H", "G", "n_segments", "fit_error_mas",
                   "coefficients", "healpix_pixels"]
        table = pq.read_table(path, columns=columns, memory_map=True)
        objects = table.select(columns[:6]).to_pandas()
        coefficients = table.column("coefficients").combine_chunks().flatten().to_numpy()
        pixels = table.column("healpix_pixels").combine_chunks()
        counts = np.diff(pixels.offsets.to_numpy())
        coefficients = coefficients.reshape(-1, kernels.N_QUANTITIES, params["degree"] + 1)
        return cls(objects, coefficients, pixels.flatten().to_numpy(), counts, params)


def _write_atomically(path: Path, write) -> Path:
    """``write(temporary name)`` in ``path``'s folder, then rename it over ``path``."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


class _NightGrid:
    """Node and check-point times of one sub-interval split, with the Sun and observer there."""

    def __init__(self, start, end, segments, degree, observatory_code):
        self.segments, self.degree = segments, degree
        nodes, checks = _chebyshev_nodes(degree), _check_points(degree)
        u = np.concatenate([nodes, checks])
        self.order = np.argsort(u)  # time order of the samples within a sub-interval
        edges = start + (end - start) * np.arange(segments) / segments
        half = 0.5 * (end - start) / segments
        mjd_tai = (edges[:, None] + half * (u[None, :] + 1.0)).ravel()
        self.mjd_tdb = convert_mjd(mjd_tai, "tai", "tdb")
        self.sun = spk.barycentric_states("sun", self.mjd_tdb)
        self.observer = observer_states(observatory_code, self.mjd_tdb, origin="ssb",
                                        frame="equatorial")
        self.fit_matrix = _chebyshev_matrix(nodes, degree).T * (2.0 / (degree + 1))
        self.fit_matrix[0] *= 0.5
        self.check_matrix = _chebyshev_matrix(checks, degree)

    def fit(self, orbits, H, G, seconds):
        """Coefficients (n, S, 7, D+1), largest check-point error (mas) and time-ordered track
        unit vectors (n, S·(2D+3), 3) of a chunk of orbits."""
        n, m = len(orbits), self.mjd_tdb.size
        t0 = time.perf_counter()
        helio, _ = propagate_states(orbits, self.mjd_tdb, method="nbody")
        t1 = time.perf_counter()
        obs = observables(helio.reshape(-1, 6), np.tile(self.sun, (n, 1)),
                          np.tile(self.observer, (n, 1)), np.repeat(H, m), np.repeat(G, m))
        t2 = time.perf_counter()
        shape = (n, self.segments, 2 * self.degree + 3)
        unit = unit_vectors(obs["ra_deg"], obs["dec_deg"]).reshape(*shape, 3)
        values = np.concatenate([unit] + [obs[k].reshape(*shape, 1) for k in (
            "topo_range_au", "helio_range_au", "phase_angle_deg", "elongation_deg")], axis=-1)
        n_nodes = self.degree + 1
        coeffs = np.einsum("nskq,jk->nsqj", values[:, :, :n_nodes], self.fit_matrix)
        fitted = np.einsum("nsqj,cj->nscq", coeffs[:, :, :3], self.check_matrix)
        fitted /= np.linalg.norm(fitted, axis=-1, keepdims=True)
        error = _angle_rad(fitted, unit[:, :, n_nodes:]).max(axis=(1, 2)) * _MAS_PER_RAD
        error[~np.isfinite(values).all(axis=(1, 2, 3))] = np.nan
        track = unit[:, :, self.order].reshape(n, -1, 3)
        seconds["propagation"] += t1 - t0
        seconds["observables"] += t2 - t1
        seconds["fit"] += time.perf_counter() - t2
        return coeffs, error, track


def _track_pixels(samples, margin_rad, nside) -> np.ndarray:
    """NESTED pixels touched by a track given by time-ordered unit vectors (m, 3).

    The track is covered by discs around pieces of it, each of radius: largest distance of the
    piece's samples from its centre + largest step between consecutive samples (the track
    between two samples stays within one step of them) + the fit error + 1 mas. Pieces longer
    than about two pixels are split in halves so that a fast mover's discs stay narrow.
    """
    limit = 2.0 * hp.nside2resol(nside)
    steps = _angle_rad(samples[1:], samples[:-1])
    pieces, discs = [(0, samples.shape[0] - 1)], []
    while pieces:
        first, last = pieces.pop()
        piece = samples[first:last + 1]
        centre = piece.mean(axis=0)
        centre /= np.linalg.norm(centre)
        extent = _angle_rad(piece, centre).max()
        if extent > limit and last - first > 1:
            middle = (first + last) // 2
            pieces += [(first, middle), (middle, last)]
            continue
        radius = extent + steps[first:last].max() + margin_rad + _INDEX_MARGIN_RAD
        discs.append(hp.query_disc(nside, centre, radius, inclusive=True, nest=True))
    return np.unique(np.concatenate(discs)).astype(np.int64)
