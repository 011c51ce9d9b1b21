"""Nightly ephemeris cache: fits against ephemeris(), queries against brute force, storage.

Tolerances: positions within 1 mas of ephemeris() (the cache's stated accuracy); the cone and
polygon tests compare object sets except within 2 mas of the boundary, where the fit's sub-mas
error may legitimately put an object on either side.
"""

import healpy as hp
import numpy as np
import pandas as pd
import pytest

from ephemerides import _cache_kernels as kernels
from ephemerides import ephemeris, observer_states, read_orbits
from ephemerides.cache import QUERY_COLUMNS, NightlyCache, orbits_checksum
from ephemerides.constants import EQUATORIAL_TO_ECLIPTIC
from ephemerides.designations import ss_object_ids
from ephemerides.timescales import convert_mjd

NIGHT_START_MJD_TAI, NIGHT_END_MJD_TAI = 57401.0, 57401.4
MAS_PER_DEG = 3.6e6
BOUNDARY_DEG = 2.0 / MAS_PER_DEG
# Synthetic objects seen from the geocentre at the middle of the night: (id, RA, Dec, range AU,
# motion direction on the sky (deg from north through east), transverse speed km/s).
SYNTHETIC = [
    ("SYNRA0", 359.95, 0.3, 0.05, 90.0, 10.0),       # crosses RA 360 -> 0 during the night
    ("SYNRA360", 0.05, -0.4, 0.8, 270.0, 20.0),      # crosses RA 0 -> 360
    ("SYNPOLEN", 12.0, 89.8, 0.3, 0.0, 15.0),        # passes over the north pole
    ("SYNPOLES", 200.0, -89.6, 1.5, 45.0, 30.0),     # near the south pole
    ("SYNFAST", 150.0, 20.0, 0.02, 120.0, 12.0),     # ~30 deg/day close approach
    ("SYNCLOSE", 80.0, -30.0, 0.0015, 200.0, 8.0),   # ~260 deg/day, inside the Moon's orbit
]


def _unit(ra_deg, dec_deg):
    ra, dec = np.deg2rad(ra_deg), np.deg2rad(dec_deg)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def _separation_deg(ra1, dec1, ra2, dec2):
    """Great-circle distance (deg), haversine-accurate at micro-arcsecond scales."""
    return np.rad2deg(2.0 * np.arcsin(0.5 * np.linalg.norm(
        _unit(ra1, dec1) - _unit(ra2, dec2), axis=-1)))


def _synthetic_orbits() -> pd.DataFrame:
    """CART orbits placing each SYNTHETIC object at its sky position mid-night."""
    epoch_tdb = float(convert_mjd([0.5 * (NIGHT_START_MJD_TAI + NIGHT_END_MJD_TAI)],
                                  "tai", "tdb")[0])
    earth = observer_states("500", [epoch_tdb], origin="sun", frame="equatorial")[0]
    rows = []
    for name, ra, dec, rng, direction, speed_km_s in SYNTHETIC:
        u = _unit(ra, dec)
        north = np.array([0.0, 0.0, 1.0]) - u[2] * u
        north /= np.linalg.norm(north)
        east = np.cross(north, u)
        angle = np.deg2rad(direction)
        velocity = ((np.cos(angle) * north + np.sin(angle) * east)
                    * speed_km_s * 86400 / 1.495978707e8)
        position = earth[:3] + rng * u
        velocity = earth[3:] + velocity
        rows.append([name, *(EQUATORIAL_TO_ECLIPTIC @ position),
                     *(EQUATORIAL_TO_ECLIPTIC @ velocity), epoch_tdb])
    table = pd.DataFrame(rows, columns=["object_id", "x_au", "y_au", "z_au", "vx_au_per_day",
                                        "vy_au_per_day", "vz_au_per_day", "epoch_mjd_tdb"])
    table.insert(1, "ssObjectId", ss_object_ids(table["object_id"]))
    table.insert(2, "format", "CART")
    table["H"], table["G"] = 20.0, 0.15
    return table


@pytest.fixture(scope="module")
def nea_orbits(shared_data):
    return read_orbits(shared_data / "orbits" / "nea_mpcorb_epoch_2016.txt").iloc[:2000]


@pytest.fixture(scope="module")
def cache_orbits(nea_orbits):
    return {"CART": _synthetic_orbits(), "MPCORB": nea_orbits.reset_index(drop=True)}


@pytest.fixture(scope="module")
def built(cache_orbits):
    """One cache per orbit format (the orbit table must be of one format)."""
    return {key: NightlyCache.build(orbits, NIGHT_START_MJD_TAI, NIGHT_END_MJD_TAI, "X05")
            for key, orbits in cache_orbits.items()}


def _brute(orbits, mjd_tai):
    return ephemeris(orbits, [mjd_tai], observatory_code="X05", time_scale="tai")


QUERY_TIMES = (NIGHT_START_MJD_TAI, 57401.1234567, 57401.25, NIGHT_END_MJD_TAI)


@pytest.mark.parametrize("mjd_tai", QUERY_TIMES)
def test_positions_and_rates_match_ephemeris(built, cache_orbits, mjd_tai):
    for key, cache in built.items():
        truth = _brute(cache_orbits[key], mjd_tai)
        rows = np.arange(len(cache.objects))
        got = cache._table(rows, cache._evaluate(rows, mjd_tai))
        merged = got.merge(truth, on="object_id", suffixes=("", "_truth"), validate="1:1")
        sep_mas = _separation_deg(merged["ra_deg"], merged["dec_deg"], merged["ra_deg_truth"],
                                  merged["dec_deg_truth"]) * MAS_PER_DEG
        assert sep_mas.max() <= 1.0, (key, merged["object_id"][np.argmax(sep_mas)], sep_mas.max())
        # Rates: the fit's derivative, ~1e-6 relative for degree 8 (derivatives lose accuracy).
        for column in ("ra_rate_deg_per_day", "dec_rate_deg_per_day"):
            np.testing.assert_allclose(merged[column], merged[f"{column}_truth"],
                                       rtol=1e-5, atol=1e-6)
        for column in ("topo_range_au", "helio_range_au"):
            np.testing.assert_allclose(merged[column], merged[f"{column}_truth"], rtol=1e-8)
        for column in ("phase_angle_deg", "elongation_deg", "v_mag"):
            np.testing.assert_allclose(merged[column], merged[f"{column}_truth"], atol=1e-6)


def test_fit_errors_reported_and_within_tolerance(built):
    for cache in built.values():
        errors = cache.objects["fit_error_mas"]
        assert np.isfinite(errors).all() and (errors <= 1.0).all()
    synthetic = built["CART"].objects.set_index("object_id")
    # Close approaches need sub-intervals; the slow real NEAs need none.
    assert synthetic.loc["SYNCLOSE", "n_segments"] > 1
    assert (built["MPCORB"].objects["n_segments"] == 1).all()


def test_unreachable_tolerance_raises(cache_orbits):
    with pytest.raises(ValueError, match=r"SYNCLOSE.*max_segments"):
        NightlyCache.build(cache_orbits["CART"], NIGHT_START_MJD_TAI, NIGHT_END_MJD_TAI,
                           degree=3, max_segments=2)


def _fields(truth, rng):
    """Field centres: on predicted positions (so fields hold objects) and random sky points."""
    picks = truth.sample(min(8, len(truth)), random_state=1)
    ra = np.concatenate([picks["ra_deg"], rng.uniform(0, 360, 4), [0.0, 359.99, 45.0, 300.0]])
    dec = np.concatenate([picks["dec_deg"], np.rad2deg(np.arcsin(rng.uniform(-1, 1, 4))),
                          [0.1, -0.2, 90.0, -89.9]])
    return zip(ra + rng.normal(0, 0.5, ra.size) * (np.arange(ra.size) % 2), dec, strict=True)


@pytest.mark.parametrize("mjd_tai", QUERY_TIMES[1:3])
@pytest.mark.parametrize("radius_deg", [1.75, 0.3, 8.0])
def test_cone_query_matches_brute_force(built, cache_orbits, mjd_tai, radius_deg):
    rng = np.random.default_rng(7)
    n_found = 0
    for key, cache in built.items():
        truth = _brute(cache_orbits[key], mjd_tai)
        for ra, dec in _fields(truth, rng):
            dec = float(np.clip(dec, -90, 90))
            got = cache.query(ra, dec, radius_deg, mjd_tai)
            assert tuple(got.columns) == QUERY_COLUMNS
            sep = _separation_deg(ra, dec, truth["ra_deg"], truth["dec_deg"])
            must = set(truth["object_id"][sep < radius_deg - BOUNDARY_DEG])
            may = set(truth["object_id"][sep <= radius_deg + BOUNDARY_DEG])
            found = set(got["object_id"])
            assert must <= found, (key, ra, dec, must - found)
            assert found <= may, (key, ra, dec, found - may)
            n_found += len(found)
    assert n_found >= 8  # the fields centred exactly on objects hold them


def test_index_covers_every_true_position(built, cache_orbits):
    """The pixel of every object's true position, at times between all nodes, is indexed."""
    times = np.linspace(NIGHT_START_MJD_TAI, NIGHT_END_MJD_TAI, 37)
    for key, cache in built.items():
        truth = ephemeris(cache_orbits[key], times, observatory_code="X05", time_scale="tai")
        pixels = hp.ang2pix(cache.params["nside"], truth["ra_deg"], truth["dec_deg"],
                            nest=True, lonlat=True)
        row = pd.Index(cache.objects["object_id"]).get_indexer(truth["object_id"])
        indexed = {(int(o), int(p)) for o, p in zip(cache._pixel_objects, np.repeat(
            np.arange(cache._pixel_offsets.size - 1), np.diff(cache._pixel_offsets)), strict=True)}
        missing = [(o, p) for o, p in zip(row, pixels, strict=True) if (o, p) not in indexed]
        assert not missing, (key, missing[:5])


def test_cone_query_on_special_objects(built, cache_orbits):
    """Small fields centred on the RA-wrap, polar and fast synthetic objects, all night."""
    cache = built["CART"]
    for mjd_tai in np.linspace(NIGHT_START_MJD_TAI, NIGHT_END_MJD_TAI, 9):
        truth = _brute(cache_orbits["CART"], mjd_tai)
        for row in truth.itertuples():
            got = cache.query(row.ra_deg, row.dec_deg, 0.01, mjd_tai)
            assert row.object_id in set(got["object_id"]), (row.object_id, mjd_tai)
            # A field displaced so that the object sits just inside its edge.
            edge = cache.query(row.ra_deg, float(np.clip(row.dec_deg + 0.9999, -90, 90)), 1.0,
                               mjd_tai)
            sep = _separation_deg(row.ra_deg, float(np.clip(row.dec_deg + 0.9999, -90, 90)),
                                  row.ra_deg, row.dec_deg)
            if sep < 1.0 - BOUNDARY_DEG:
                assert row.object_id in set(edge["object_id"]), (row.object_id, mjd_tai)


def _polygon_around(ra_deg, dec_deg, half_deg, rotation_deg):
    """A square of half-size ``half_deg`` in the tangent plane, rotated, as RA/Dec vertices."""
    centre = _unit(ra_deg, dec_deg)
    pole = np.array([0.0, 0.0, 1.0]) if abs(dec_deg) < 89 else np.array([1.0, 0.0, 0.0])
    north = pole - (pole @ centre) * centre
    north /= np.linalg.norm(north)
    east = np.cross(north, centre)
    h = np.tan(np.deg2rad(half_deg))
    angles = np.deg2rad(rotation_deg + np.array([45.0, 135.0, 225.0, 315.0]))
    corners = centre + np.sqrt(2) * h * (np.cos(angles)[:, None] * north
                                         + np.sin(angles)[:, None] * east)
    corners /= np.linalg.norm(corners, axis=1, keepdims=True)
    return (np.rad2deg(np.arctan2(corners[:, 1], corners[:, 0])) % 360,
            np.rad2deg(np.arcsin(corners[:, 2])), corners)


def _inside_polygon_margin_deg(points, corners):
    """Signed smallest angular distance (deg) of points inside a convex polygon's edges."""
    normals = np.cross(corners, np.roll(corners, -1, axis=0))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    sense = np.sign(np.sum(corners @ normals.T))
    return np.rad2deg(np.arcsin(np.clip(sense * points @ normals.T, -1, 1))).min(axis=1)


def test_polygon_query_matches_brute_force(built, cache_orbits):
    mjd_tai = 57401.2
    for key, cache in built.items():
        truth = _brute(cache_orbits[key], mjd_tai)
        points = _unit(truth["ra_deg"].to_numpy(), truth["dec_deg"].to_numpy())
        for i, row in enumerate(truth.sample(min(6, len(truth)), random_state=3).itertuples()):
            for reverse in (False, True):
                ra, dec, corners = _polygon_around(row.ra_deg, row.dec_deg, 0.5 + i, 17.0 * i)
                if reverse:
                    ra, dec, corners = ra[::-1], dec[::-1], corners[::-1]
                got = set(cache.query_polygon(ra, dec, mjd_tai)["object_id"])
                margin = _inside_polygon_margin_deg(points, corners)
                assert set(truth["object_id"][margin > BOUNDARY_DEG]) <= got
                assert got <= set(truth["object_id"][margin >= -BOUNDARY_DEG])
                assert row.object_id in got


def test_polygon_must_be_convex(built):
    with pytest.raises(ValueError, match="convex"):
        built["CART"].query_polygon([0, 2, 1, 2, 0], [0, 0, 0.2, 2, 2], 57401.2)


def test_query_outside_night_refused(built):
    with pytest.raises(ValueError, match="outside the cached night"):
        built["CART"].query(10.0, 0.0, 1.0, NIGHT_END_MJD_TAI + 0.01)


def test_save_load_round_trip_and_staleness(built, cache_orbits, tmp_path):
    cache, orbits = built["MPCORB"], cache_orbits["MPCORB"]
    path = cache.save(tmp_path / "night.parquet")
    assert [p.name for p in tmp_path.iterdir()] == ["night.parquet"]  # no temporary left
    loaded = NightlyCache.load(path, orbits, night_start_mjd_tai=NIGHT_START_MJD_TAI,
                               night_end_mjd_tai=NIGHT_END_MJD_TAI, observatory_code="X05")
    pd.testing.assert_frame_equal(loaded.objects, cache.objects)
    np.testing.assert_array_equal(loaded.coefficients, cache.coefficients)
    assert loaded.params == cache.params
    np.testing.assert_array_equal(loaded._pixel_offsets, cache._pixel_offsets)
    np.testing.assert_array_equal(loaded._pixel_objects, cache._pixel_objects)
    pd.testing.assert_frame_equal(loaded.query(10.0, 5.0, 30.0, 57401.2),
                                  cache.query(10.0, 5.0, 30.0, 57401.2))

    changed = orbits.copy()
    changed.loc[3, "e"] += 1e-9
    assert orbits_checksum(changed) != orbits_checksum(orbits)
    assert orbits_checksum(orbits.iloc[::-1]) == orbits_checksum(orbits)
    with pytest.raises(ValueError, match=r"stale nightly cache.*orbits_sha256"):
        NightlyCache.load(path, changed)
    with pytest.raises(ValueError, match=r"stale nightly cache.*night_start_mjd_tai"):
        NightlyCache.load(path, night_start_mjd_tai=NIGHT_START_MJD_TAI + 1)
    with pytest.raises(ValueError, match=r"stale nightly cache.*observatory_code"):
        NightlyCache.load(path, observatory_code="W84")
    plain = tmp_path / "plain.parquet"
    orbits.to_parquet(plain)
    with pytest.raises(ValueError, match="not a nightly ephemeris cache"):
        NightlyCache.load(plain)


def test_bad_build_arguments(cache_orbits):
    orbits = cache_orbits["CART"]
    with pytest.raises(ValueError, match="night"):
        NightlyCache.build(orbits, NIGHT_END_MJD_TAI, NIGHT_START_MJD_TAI)
    with pytest.raises(ValueError, match="power of two"):
        NightlyCache.build(orbits, NIGHT_START_MJD_TAI, NIGHT_END_MJD_TAI, max_segments=3)


# ---------------------------------------------------------------------- kernel vs reference
def _reference_evaluate(coefficients, first_segment, n_segments, rows, t0, night_days, t):
    """Slow NumPy reference of ``_cache_kernels.evaluate``."""
    out = np.empty((rows.size, kernels.N_OUT))
    for i, obj in enumerate(rows):
        seg = min(int((t - t0) / night_days * n_segments[obj]), n_segments[obj] - 1)
        half = 0.5 * night_days / n_segments[obj]
        u = (t - (t0 + (2 * seg + 1) * half)) / half
        c = coefficients[first_segment[obj] + seg]
        values = np.array([np.polynomial.chebyshev.chebval(u, c[q]) for q in range(7)])
        slopes = np.array([np.polynomial.chebyshev.chebval(
            u, np.polynomial.chebyshev.chebder(c[q])) / half for q in range(3)])
        norm = np.linalg.norm(values[:3])
        unit = values[:3] / norm
        rate = slopes / norm - (unit @ (slopes / norm)) * unit
        out[i] = np.concatenate([unit, rate, values[3:]])
    return out


@pytest.mark.parametrize("degree", [2, 5, 8, 13])
def test_evaluate_kernel_matches_reference(degree):
    rng = np.random.default_rng(degree)
    n_segments = rng.choice([1, 2, 4, 16], size=40).astype(np.int64)
    first_segment = np.concatenate([[0], np.cumsum(n_segments)[:-1]]).astype(np.int64)
    coefficients = rng.normal(size=(int(n_segments.sum()), 7, degree + 1))
    coefficients[:, :, 0] += 3.0
    rows = rng.permutation(40)[:25].astype(np.int64)
    # A small t0: at MJD ~6e4, t - t0 carries ~1e-11 day of rounding that the kernel and the
    # reference scale to [-1, 1] differently, which random polynomials amplify in the rates.
    t0, night_days = 0.1, 0.45
    for t in (t0, t0 + 0.1234, t0 + 0.3, t0 + night_days):
        out = np.empty((rows.size, kernels.N_OUT))
        kernels.evaluate(coefficients, first_segment, n_segments, rows, t0, night_days, t, out)
        expected = _reference_evaluate(coefficients, first_segment, n_segments, rows, t0,
                                       night_days, t)
        np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-9)


def test_evaluate_kernel_empty_and_nan():
    out = np.empty((0, kernels.N_OUT))
    coefficients = np.full((1, 7, 4), np.nan)
    one = np.ones(1, dtype=np.int64)
    kernels.evaluate(coefficients, np.zeros(1, np.int64), one, np.empty(0, np.int64), 0.0, 1.0,
                     0.5, out)
    out = np.empty((1, kernels.N_OUT))
    kernels.evaluate(coefficients, np.zeros(1, np.int64), one, np.zeros(1, np.int64), 0.0, 1.0,
                     0.5, out)
    assert np.isnan(out).all()
