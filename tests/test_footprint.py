"""Footprints: gnomonic projection, rotSkyPos convention, detector corners, gaps, area."""

import numpy as np
import pytest

from sso.footprint import (
    Footprint,
    circle_footprint,
    gnomonic,
    inverse_gnomonic,
    lsst_footprint,
    make_footprint,
)


@pytest.fixture(scope="module")
def lsst(shared_data):
    return lsst_footprint(shared_data / "survey" / "lsst_detector_corners.csv")


def _square(x0, y0, half):
    return [[x0 - half, y0 - half], [x0 + half, y0 - half], [x0 + half, y0 + half],
            [x0 - half, y0 + half]]


@pytest.fixture
def toy():
    """Two 0.2 deg square detectors: number 7 on the +y axis, number 3 on the +x axis."""
    d = np.deg2rad
    corners = np.array([_square(0.0, d(1.0), d(0.1)), _square(d(1.0), 0.0, d(0.1))])
    return Footprint("toy", corners, np.array([7, 3]), 1.2)


def test_gnomonic_round_trip():
    rng = np.random.default_rng(1)
    ra0, dec0 = 123.0, -61.0
    xi, eta = rng.uniform(-0.04, 0.04, (2, 1000))
    ra, dec = inverse_gnomonic(xi, eta, ra0, dec0)
    xi2, eta2, cos_c = gnomonic(ra, dec, ra0, dec0)
    assert np.all(cos_c > 0.99)
    assert np.allclose(xi2, xi, atol=1e-14) and np.allclose(eta2, eta, atol=1e-14)
    # xi grows towards East (RA), eta towards North (Dec).
    ra_e, dec_n = inverse_gnomonic(np.array([0.01, 0.0]), np.array([0.0, 0.01]), ra0, dec0)
    assert ra_e[0] > ra0 and np.isclose(dec_n[1], dec0 + np.rad2deg(np.arctan(0.01)))


@pytest.mark.parametrize(
    ("rot", "d_ra_deg", "d_dec_deg"),
    # rotSkyPos is the position angle of focal-plane +y, North through East; at 0, +x is West.
    [(0.0, 0.0, 1.0), (90.0, 1.0, 0.0), (180.0, 0.0, -1.0), (270.0, -1.0, 0.0)],
)
def test_plus_y_axis_direction(toy, rot, d_ra_deg, d_dec_deg):
    visit = {"fieldRA": 40.0, "fieldDec": 0.0, "rotSkyPos": rot}
    centre = toy.sky_corners(visit)[7].mean(axis=0)
    assert np.allclose(centre, [40.0 + d_ra_deg, d_dec_deg], atol=2e-3)
    # The +x detector lies 90 deg clockwise on the sky (West at rotSkyPos 0).
    centre_x = toy.sky_corners(visit)[3].mean(axis=0)
    assert np.allclose(centre_x, [40.0 - d_dec_deg, d_ra_deg], atol=2e-3)


@pytest.mark.parametrize("rot", [0.0, 37.0, 90.0, 211.5])
def test_detector_of_inside_corners_and_gaps(toy, rot):
    visit = {"fieldRA": 300.0, "fieldDec": 45.0, "rotSkyPos": rot}
    for detector, corners in toy.sky_corners(visit).items():
        # Corners pulled 1 % towards the detector centre are inside it; pushed out, they are not.
        centre = corners.mean(axis=0)
        inner = centre + 0.99 * (corners - centre)
        outer = centre + 1.01 * (corners - centre)
        assert np.all(toy.detector_of(inner[:, 0], inner[:, 1], visit) == detector)
        assert np.all(toy.detector_of(outer[:, 0], outer[:, 1], visit) == -1)
    # The field centre is in no detector; a point 1.5 deg away is off the focal plane.
    assert toy.detector_of(300.0, 45.0, visit) == -1
    assert toy.detector_of(300.0, 46.5, visit) == -1


def test_detector_of_broadcasts_over_visits(toy):
    # The same sky point seen by two visits: on detector 7 at rotSkyPos 0, on 3 at rotSkyPos 90
    # (+x points North then), off the focal plane at rotSkyPos 45.
    visits = {"fieldRA": np.array([10.0, 10.0, 10.0]), "fieldDec": np.zeros(3),
              "rotSkyPos": np.array([0.0, 90.0, 45.0])}
    assert toy.detector_of(np.full(3, 10.0), np.full(3, 1.0), visits).tolist() == [7, 3, -1]


def test_circle():
    circle = circle_footprint()
    visit = {"fieldRA": 0.5, "fieldDec": -89.0, "rotSkyPos": 0.0}
    dec = np.array([-89.0 + 1.74, -89.0 + 1.76, -89.0 - 1.74, -89.0 - 1.76])
    assert circle.detector_of(np.full(4, 0.5), dec, visit).tolist() == [0, -1, 0, -1]
    assert circle.area_deg2 == pytest.approx(9.62, abs=0.01)
    with pytest.raises(ValueError, match="no detector corners"):
        circle.sky_corners(visit)


def test_lsst_focal_plane(lsst):
    assert lsst.detector_ids.tolist() == list(range(189))
    assert lsst.area_deg2 == pytest.approx(9.49, abs=0.05)  # 189 CCDs of 4k x 4k 0.2" pixels
    assert lsst.radius_deg == pytest.approx(2.05, abs=0.01)
    # Monte Carlo area of detector_of agrees with the detectors' area (gaps excluded).
    rng = np.random.default_rng(5)
    radius = np.deg2rad(lsst.radius_deg)
    cos_c = 1.0 - rng.uniform(size=200_000) * (1.0 - np.cos(radius))
    az = rng.uniform(0, 2 * np.pi, cos_c.size)
    rho = np.sqrt(1 - cos_c**2) / cos_c
    visit = {"fieldRA": 150.0, "fieldDec": -20.0, "rotSkyPos": 123.0}
    ra, dec = inverse_gnomonic(rho * np.sin(az), rho * np.cos(az), 150.0, -20.0)
    inside = lsst.detector_of(ra, dec, visit) >= 0
    cap = 2 * np.pi * (1 - np.cos(radius)) * (180 / np.pi) ** 2
    assert inside.mean() * cap == pytest.approx(lsst.area_deg2, rel=0.01)


def _reference_detector_of(footprint, x, y):
    """Slow, obvious reference: test every point against every detector's four edges."""
    found = np.full(x.size, -1)
    for i in range(x.size):
        for detector, quad in zip(footprint.detector_ids, footprint.corners, strict=True):
            sides = [(b[0] - a[0]) * (y[i] - a[1]) - (b[1] - a[1]) * (x[i] - a[0])
                     for a, b in zip(quad, np.roll(quad, -1, axis=0), strict=True)]
            if all(s >= 0 for s in sides) or all(s <= 0 for s in sides):
                found[i] = detector
                break
    return found


def test_lsst_detector_lookup_matches_reference(lsst):
    rng = np.random.default_rng(9)
    x, y = rng.uniform(-0.036, 0.036, (2, 800))
    assert np.array_equal(lsst._detector_at(x, y), _reference_detector_of(lsst, x, y))


def test_lsst_detector_positions_and_gap(lsst):
    # The detector farthest along +y sits North of the boresight at rotSkyPos 0, East at 90.
    top = int(np.argmax(lsst.corners[..., 1].mean(axis=1)))
    offset = np.rad2deg(lsst.corners[top, :, 1].mean())
    for rot, expected in [(0.0, (0.0, offset)), (90.0, (offset, 0.0))]:
        visit = {"fieldRA": 0.0, "fieldDec": 0.0, "rotSkyPos": rot}
        centre = lsst.sky_corners(visit)[top].mean(axis=0)
        d_ra = (centre[0] + 180.0) % 360.0 - 180.0
        assert abs(d_ra - expected[0]) < 0.25 and abs(centre[1] - expected[1]) < 0.25
        assert lsst.detector_of(centre[0], centre[1], visit) == top
    # Between detectors 0 and 1 (side by side in x) there is a gap.
    visit = {"fieldRA": 0.0, "fieldDec": 0.0, "rotSkyPos": 0.0}
    gap_x = 0.5 * (lsst.corners[0, :, 0].max() + lsst.corners[1, :, 0].min())
    gap_y = lsst.corners[0, :, 1].mean()
    assert lsst.corners[0, :, 0].max() < lsst.corners[1, :, 0].min()
    # At rotSkyPos 0, xi = -x and eta = y.
    ra, dec = inverse_gnomonic(np.array([-gap_x]), np.array([gap_y]), 0.0, 0.0)
    assert lsst.detector_of(ra, dec, visit)[0] == -1


def test_errors_teach(tmp_path):
    with pytest.raises(ValueError, match="needs detector_corners"):
        make_footprint("lsst")
    with pytest.raises(ValueError, match="one of"):
        make_footprint("square")
    with pytest.raises(ValueError, match="does not exist"):
        lsst_footprint(tmp_path / "none.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("detector,x,y\n0,0,0\n0,0,1\n0,1,1\n")
    with pytest.raises(ValueError, match="do not have 4 corners"):
        lsst_footprint(bad)
    with pytest.raises(ValueError, match="fieldRA"):
        circle_footprint().detector_of(0.0, 0.0, {"ra": 0.0})
