"""Fields of view: a circular field or the LSST focal plane, and which detector sees a point.

Sky positions are projected on the tangent plane of the field centre (gnomonic projection):
``xi`` points East and ``eta`` North, both in radians. The focal-plane axes ``(x, y)`` of the
detector-corner file are then placed on the sky with the rotation angle ``rotSkyPos``.

Convention of ``rotSkyPos`` (Rubin/OpSim, ``lsst.afw.image.VisitInfo``: "position angle of focal
plane +Y with respect to the sky; at a rotation angle of 0, North is along focal plane +Y; at 90,
+Y is aligned with East"; Rubin's LSST convention at angle 0: "+x: E->W, +y: S->N"): ``rotSkyPos``
is the position angle of the focal-plane +y axis, measured from North through East. Hence

    xi  = -x cos(rot) + y sin(rot)        (East)
    eta =  x sin(rot) + y cos(rot)        (North)

so at ``rotSkyPos = 0`` the +y axis points North and +x West, and at 90 the +y axis points East
and +x North.
"""

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from ephemerides.errors import InputError
from ephemerides.tablefiles import read_table_file

CIRCLE_RADIUS_DEG = 1.75
"""Radius of the circular field (deg): the LSST field of view is about 9.6 deg²."""

FOOTPRINTS = ("circle", "lsst")
_CHUNK_POINTS = 65536  # points tested at once (~40 MB of temporaries)
_NEAREST_DETECTORS = 4  # detectors, nearest by centre, tested for each point


def gnomonic(ra_deg, dec_deg, ra0_deg, dec0_deg):
    """Gnomonic (tangent-plane) projection around ``(ra0, dec0)``.

    Parameters
    ----------
    ra_deg, dec_deg : array_like
        Sky positions (deg).
    ra0_deg, dec0_deg : array_like
        Projection centre (deg), broadcast against the positions.

    Returns
    -------
    xi, eta, cos_c : ndarray
        Standard coordinates towards East and North (rad) and the cosine of the angular distance
        from the centre (points with ``cos_c <= 0`` lie on the far hemisphere and have no
        projection: their ``xi``, ``eta`` are meaningless).
    """
    ra, dec = np.deg2rad(ra_deg), np.deg2rad(dec_deg)
    ra0, dec0 = np.deg2rad(ra0_deg), np.deg2rad(dec0_deg)
    dra = ra - ra0
    cos_c = np.sin(dec0) * np.sin(dec) + np.cos(dec0) * np.cos(dec) * np.cos(dra)
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = np.cos(dec) * np.sin(dra) / cos_c
        eta = (np.cos(dec0) * np.sin(dec) - np.sin(dec0) * np.cos(dec) * np.cos(dra)) / cos_c
    return xi, eta, cos_c


def inverse_gnomonic(xi, eta, ra0_deg, dec0_deg):
    """Sky position (deg) of standard coordinates ``xi`` (East), ``eta`` (North) in radians."""
    ra0, dec0 = np.deg2rad(ra0_deg), np.deg2rad(dec0_deg)
    rho = np.hypot(xi, eta)
    c = np.arctan(rho)
    sin_c, cos_c = np.sin(c), np.cos(c)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(rho > 0, sin_c / rho, 1.0)
    dec = np.arcsin(cos_c * np.sin(dec0) + eta * ratio * np.cos(dec0))
    ra = ra0 + np.arctan2(xi * sin_c, rho * np.cos(dec0) * cos_c - eta * np.sin(dec0) * sin_c)
    return np.rad2deg(ra) % 360.0, np.rad2deg(dec)


def focal_plane_to_sky_plane(x, y, rot_sky_pos_deg):
    """Focal-plane ``(x, y)`` (rad) to standard coordinates ``(xi East, eta North)`` (rad)."""
    rot = np.deg2rad(rot_sky_pos_deg)
    c, s = np.cos(rot), np.sin(rot)
    return -x * c + y * s, x * s + y * c


def sky_plane_to_focal_plane(xi, eta, rot_sky_pos_deg):
    """Inverse of :func:`focal_plane_to_sky_plane` (its matrix is symmetric and orthogonal)."""
    rot = np.deg2rad(rot_sky_pos_deg)
    c, s = np.cos(rot), np.sin(rot)
    return -xi * c + eta * s, xi * s + eta * c


def _visit_values(visit, name):
    try:
        return np.asarray(visit[name], dtype=np.float64)
    except (KeyError, IndexError, TypeError):
        raise InputError(
            f"visit must give {name!r} (with 'fieldRA', 'fieldDec', 'rotSkyPos' in degrees), "
            "e.g. one row of a visit table"
        ) from None


@dataclass(frozen=True)
class Footprint:
    """Detectors of a field of view, as quadrilaterals in focal-plane coordinates.

    Attributes
    ----------
    name : str
        ``"circle"`` or ``"lsst"``.
    corners : (n_detectors, 4, 2) ndarray or None
        Corners (rad) of each detector in the focal plane, in order around its edge; None for
        the circle, which is one detector (number 0) of radius ``radius_deg``.
    detector_ids : (n_detectors,) ndarray of int
        Detector number of each quadrilateral.
    radius_deg : float
        Radius (deg) of the smallest circle around the field centre that holds every detector.
    """

    name: str
    corners: np.ndarray | None
    detector_ids: np.ndarray
    radius_deg: float

    @property
    def area_deg2(self) -> float:
        """Sky area covered by the detectors (deg², small-field tangent-plane approximation)."""
        if self.corners is None:
            return 2.0 * np.pi * (1.0 - np.cos(np.deg2rad(self.radius_deg))) * (180 / np.pi) ** 2
        x, y = self.corners[..., 0], self.corners[..., 1]
        shoelace = 0.5 * np.abs(
            np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1)
        )
        return float(shoelace.sum()) * (180 / np.pi) ** 2

    def detector_of(self, ra_deg, dec_deg, visit) -> np.ndarray:
        """Detector that sees each sky position during ``visit``, or -1.

        Parameters
        ----------
        ra_deg, dec_deg : array_like
            Sky positions (deg).
        visit : mapping
            ``fieldRA``, ``fieldDec``, ``rotSkyPos`` (deg), scalars or arrays broadcast against
            the positions (a visit-table row, or columns picked per position).

        Returns
        -------
        ndarray of int64
            Detector number; -1 off the focal plane or in a gap between detectors.
        """
        field_ra = _visit_values(visit, "fieldRA")
        field_dec = _visit_values(visit, "fieldDec")
        rot = _visit_values(visit, "rotSkyPos")
        xi, eta, cos_c = gnomonic(ra_deg, dec_deg, field_ra, field_dec)
        xi, eta, cos_c, rot = np.broadcast_arrays(xi, eta, cos_c, rot)
        out = np.full(xi.shape, -1, dtype=np.int64)
        near = cos_c > np.cos(np.deg2rad(self.radius_deg))
        if self.corners is None:
            out[near] = 0
            return out
        x, y = sky_plane_to_focal_plane(xi[near], eta[near], rot[near])
        out[near] = self._detector_at(x, y)
        return out

    @cached_property
    def _centre_tree(self) -> cKDTree:
        """KD-tree of the detector centres in the focal plane."""
        return cKDTree(self.corners.mean(axis=1))

    def _detector_at(self, x, y) -> np.ndarray:
        """Detector containing focal-plane points ``(x, y)`` (rad), or -1 (convex quads).

        A point inside a detector of a grid of equal detectors is nearer its centre than any
        other; the nearest few centres are tested, which allows for a tilted or uneven grid.
        """
        found = np.full(x.shape, -1, dtype=np.int64)
        k = min(_NEAREST_DETECTORS, self.detector_ids.size)
        for first in range(0, x.size, _CHUNK_POINTS):
            chunk = slice(first, first + _CHUNK_POINTS)
            px, py = x[chunk], y[chunk]
            _, nearest = self._centre_tree.query(np.column_stack([px, py]), k=k)
            nearest = nearest.reshape(px.size, k)
            start = self.corners[nearest]  # (points, k, 4, 2)
            edge = np.roll(start, -1, axis=2) - start
            # Inside a convex quadrilateral: on the same side of all four edges, whichever way
            # round its corners run.
            cross = (edge[..., 0] * (py[:, None, None] - start[..., 1])
                     - edge[..., 1] * (px[:, None, None] - start[..., 0]))
            inside = np.all(cross >= 0, axis=2) | np.all(cross <= 0, axis=2)
            hit = inside.any(axis=1)
            which = nearest[hit, np.argmax(inside[hit], axis=1)]
            found[chunk][hit] = self.detector_ids[which]
        return found

    def sky_corners(self, visit) -> dict:
        """Sky positions (deg) of every detector corner for one visit: ``{detector: (4, 2)}``."""
        if self.corners is None:
            raise InputError("the circular footprint has no detector corners; use 'lsst'")
        xi, eta = focal_plane_to_sky_plane(self.corners[..., 0], self.corners[..., 1],
                                           float(_visit_values(visit, "rotSkyPos")))
        ra, dec = inverse_gnomonic(xi, eta, float(_visit_values(visit, "fieldRA")),
                                   float(_visit_values(visit, "fieldDec")))
        return {int(d): np.stack([ra[k], dec[k]], axis=1) for k, d in enumerate(self.detector_ids)}


def circle_footprint(radius_deg: float = CIRCLE_RADIUS_DEG) -> Footprint:
    """A circular field of ``radius_deg`` (deg): one detector, number 0."""
    if not 0 < radius_deg < 90:
        raise InputError(f"radius_deg must lie in (0, 90) deg; got {radius_deg}")
    return Footprint("circle", None, np.zeros(1, dtype=np.int64), float(radius_deg))


def lsst_footprint(corners_path) -> Footprint:
    """The LSST focal plane from a detector-corner file.

    Parameters
    ----------
    corners_path : str or Path
        CSV with columns ``detector, x, y``: four corners per detector, in order around it,
        focal-plane tangent-plane coordinates in radians (e.g. ``lsst_detector_corners.csv`` of
        the shared survey data, 189 science detectors).
    """
    path = Path(corners_path)
    table = read_table_file(path, "detector corner file")
    missing = {"detector", "x", "y"} - set(table.columns)
    if missing:
        raise InputError(f"detector corner file {path} lacks columns {sorted(missing)}; "
                         "it needs detector, x, y (radians)")
    table = table.sort_values("detector", kind="stable")
    counts = table.groupby("detector").size()
    if (counts != 4).any():
        bad = counts[counts != 4].index[:5].tolist()
        raise InputError(f"detector corner file {path}: detectors {bad} do not have 4 corners")
    corners = table[["x", "y"]].to_numpy(np.float64).reshape(-1, 4, 2)
    radius = float(np.rad2deg(np.arctan(np.hypot(corners[..., 0], corners[..., 1]).max())))
    return Footprint("lsst", corners, counts.index.to_numpy(np.int64), radius)


def make_footprint(footprint, detector_corners=None) -> Footprint:
    """A :class:`Footprint` from its name (``"circle"`` or ``"lsst"``) or an instance."""
    if isinstance(footprint, Footprint):
        return footprint
    if footprint == "circle":
        return circle_footprint()
    if footprint == "lsst":
        if detector_corners is None:
            raise InputError("footprint='lsst' needs detector_corners, the path of the detector "
                             "corner CSV (lsst_detector_corners.csv)")
        return lsst_footprint(detector_corners)
    raise InputError(f"footprint must be one of {FOOTPRINTS} or a Footprint; got {footprint!r}")
