"""HelioLinC3D search: hypothesis files, projection and clustering kernels against slow
references, an exact-hypothesis single-object case and the ten simulated LSST objects."""

from dataclasses import replace

import healpy as hp
import numpy as np
import pandas as pd
import pytest
from references import ten_objects_detections

from ephemerides._kepler_kernels import propagate_pairs
from ephemerides.constants import AU_KM, C_AU_PER_DAY, ECLIPTIC_TO_EQUATORIAL, GM_SUN_AU3_PER_DAY2
from ephemerides.elements import keplerian_to_cartesian
from ephemerides.observers import observer_states
from linking import classify_linkages, heliolinc, make_tracklets
from linking._heliolinc_kernels import (
    cluster_points,
    cluster_projected,
    emission_distance,
    foreign_to_hypothesis,
    project_hypothesis,
    qualifying_components,
)
from linking.heliolinc import LinkingConfig, find_candidates, neighbour_clusters, search_tracklets
from linking.hypotheses import (
    POPULATIONS,
    RDDOT_STEP_PER_DAY2,
    RDOT_STEP_PER_DAY,
    hypothesis_grid,
    load_hypotheses,
    read_hypotheses,
)
from linking.tracklets import TrackletConfig, Tracklets
from sso.executors import SerialExecutor, make_executor

TT_MINUS_TAI_DAYS = 32.184 / 86400.0


# --- hypothesis files ------------------------------------------------------------------------

def test_read_hypotheses(tmp_path):
    path = tmp_path / "h.txt"
    path.write_text("#r(AU) rdot(AU/day) mean_accel\n1.5 -0.01 0.5\n\n2.0 0.002 0.03\n")
    hyp = read_hypotheses(path)
    assert list(hyp.columns) == ["r_au", "rdot_au_per_day", "mean_accel"]
    np.testing.assert_array_equal(hyp.to_numpy(), [[1.5, -0.01, 0.5], [2.0, 0.002, 0.03]])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("#h\n1.5 -0.01\n", r"h\.txt, line 2: expected 3 columns"),
        ("#h\n1.5 -0.01 0.5\n1.5 x 0.5\n", r"line 3, column 'rdot_au_per_day': 'x' is not"),
        ("#h\n1.5 -0.01 nan\n", r"line 2, column 'mean_accel'.*not finite"),
        ("#h\n-1 0 0\n", r"line 2, column 'r_au'.*> 0 AU"),
        ("#h\n", r"no hypotheses"),
    ],
)
def test_read_hypotheses_errors_name_file_line_and_column(tmp_path, text, message):
    path = tmp_path / "h.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_hypotheses(path)


def test_missing_hypothesis_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_hypotheses(tmp_path / "absent.txt")


# --- projection kernel vs a NumPy reference --------------------------------------------------

def _reference_projection(t, u, o, r0, rdot, rddot, t_ref, passes, near):
    """ρ from np.roots of ρ² + 2(o·u)ρ + |o|² − r² at the (iterated) emission time: the largest
    positive root, or with ``near`` the smaller of two positive roots."""
    rho = np.full(t.size, np.nan)
    t_emit = np.full(t.size, np.nan)
    for i in range(t.size):
        te = t[i]
        for _ in range(passes):
            dt = te - t_ref
            r = r0 + rdot * dt + 0.5 * rddot * dt * dt
            roots = np.roots([1.0, 2.0 * (o[i] @ u[i]), o[i] @ o[i] - r * r])
            real = roots[np.abs(roots.imag) == 0].real
            positive = real[real > 0]
            if r <= 0 or positive.size == 0 or (near and positive.size < 2):
                te = np.nan
                break
            rho[i] = positive.min() if near else positive.max()
            if passes > 1:
                te = t[i] - rho[i] / C_AU_PER_DAY
        if np.isnan(te):
            rho[i] = np.nan
        t_emit[i] = te
    return rho, t_emit


def _emission(t, u, o, r0, rdot, rddot, light_time, near):
    """:func:`emission_distance` of each detection, as arrays."""
    out = np.array([emission_distance(t[i], *u[i], *o[i], r0, rdot, rddot, 60007.5,
                                      C_AU_PER_DAY, light_time, near) for i in range(t.size)])
    return out[:, 0], out[:, 1]


@pytest.mark.parametrize("near", [False, True])
@pytest.mark.parametrize("light_time", [False, True])
def test_projection_matches_quadratic_reference(light_time, near):
    rng = np.random.default_rng(1)
    n = 400
    u = rng.normal(size=(n, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    o = rng.normal(size=(n, 3))
    o *= rng.uniform(0.9, 1.1, n)[:, None] / np.linalg.norm(o, axis=1)[:, None]
    t = rng.uniform(60000.0, 60015.0, n)
    cases = [(0.7, -0.01, 1e-4), (0.95, 0.0, 0.0)]
    if not near:
        cases += [(2.5, 0.004, -2e-5), (1.05, 0.0, 0.0)]
    for r0, rdot, rddot in cases:
        rho, t_emit = _emission(t, u, o, r0, rdot, rddot, light_time, near)
        ref_rho, ref_t = _reference_projection(t, u, o, r0, rdot, rddot, 60007.5,
                                               3 if light_time else 1, near)
        np.testing.assert_array_equal(np.isnan(rho), np.isnan(ref_rho))
        np.testing.assert_allclose(rho, ref_rho, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(t_emit, ref_t, rtol=0, atol=1e-12)
        assert np.isfinite(rho).any()
    # r = 0.7 AU inside the observer's ~1 AU: some lines of sight miss the sphere.
    rho, _ = _emission(t, u, o, 0.7, 0.0, 0.0, light_time, near)
    assert np.isnan(rho).any()
    # r = 2.5 AU outside it: never two positive roots.
    rho, _ = _emission(t, u, o, 2.5, 0.0, 0.0, light_time, near)
    assert np.isnan(rho).all() == near


# --- clustering vs brute force ---------------------------------------------------------------

def _canonical(labels):
    """Relabel components by order of first appearance, so partitions compare equal."""
    mapping = {}
    return np.array([mapping.setdefault(x, len(mapping)) for x in labels.tolist()])


def _brute_force_clusters(points, radius):
    n = len(points)
    parent = list(range(n))

    def root(a):
        while parent[a] != a:
            a = parent[a]
        return a

    for i in range(n):
        for j in range(i + 1, n):
            if np.linalg.norm(points[i] - points[j]) <= 0.5 * (radius[i] + radius[j]):
                parent[root(i)] = root(j)
    return np.array([root(i) for i in range(n)])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clustering_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    points = rng.uniform(0.0, 1.0, size=(300, 6))
    radius = rng.uniform(0.05, 0.4, 300)
    got = neighbour_clusters(points, radius)
    expected = _brute_force_clusters(points, radius)
    np.testing.assert_array_equal(_canonical(got), _canonical(expected))
    assert 1 < np.unique(got).size < 300
    # Rows without a projection (NaN) belong to no cluster; the others are unaffected.
    points[::7, 2] = np.nan
    labels = np.empty(300, dtype=np.int64)
    cluster_points(points, radius, labels)
    assert (labels[::7] == -1).all()
    keep = np.isfinite(points).all(axis=1)
    np.testing.assert_array_equal(
        _canonical(labels[keep]),
        _canonical(_brute_force_clusters(points[keep], radius[keep])))


@pytest.mark.parametrize("cell", [0.02, 0.06, 0.15])
def test_clustering_with_cells_smaller_than_the_radii_matches_brute_force(cell):
    """Points whose radius exceeds the hash cell reach over several cells; a pair of such
    points, or one with a small-radius point, is still compared exactly once."""
    rng = np.random.default_rng(7)
    points = rng.uniform(0.0, 1.0, size=(400, 6))
    radius = np.where(rng.uniform(size=400) < 0.2, rng.uniform(0.2, 0.5, 400),
                      rng.uniform(0.02, 0.1, 400))
    labels = np.empty(400, dtype=np.int64)
    cluster_points(points, radius, labels, cell)
    expected = _brute_force_clusters(points, radius)
    np.testing.assert_array_equal(_canonical(labels), _canonical(expected))
    assert 1 < np.unique(labels).size < 400


def test_projected_points_are_propagated_and_clustered_with_grown_radii():
    """cluster_projected against NumPy: 2-body propagation by dt, velocities times τ, radius
    max(base, k σ_v (|dt| + τ)) capped at the growth (per point: trail tracklets have their own
    k and no cap), and the brute-force components."""
    rng = np.random.default_rng(3)
    n = 250
    r = rng.uniform(2.3, 2.5, n)
    direction = np.array([1.0, 0.0, 0.0]) + rng.normal(scale=0.03, size=(n, 3))
    position = direction / np.linalg.norm(direction, axis=1)[:, None] * r[:, None]
    velocity = np.cross(position, [0.0, 0.0, 1.0])
    velocity *= (np.sqrt(GM_SUN_AU3_PER_DAY2 / r) / np.linalg.norm(velocity, axis=1))[:, None]
    states = np.column_stack((position, velocity))
    dt = rng.uniform(-7.0, 7.0, n)
    geodist = rng.uniform(0.3, 2.5, n)
    rate_sigma = np.where(rng.uniform(size=n) < 0.3, rng.uniform(1e-4, 1e-2, n), 3e-5)
    tau, per_au, floor = 3.5, 0.02, 0.5
    trail = np.zeros(n, dtype=bool)
    trail[:5] = True  # their radii grow 5.5× the base: beyond the cap of the others
    geodist[trail] = 0.4
    rate_sigma[trail] = 0.022 / (np.abs(dt[trail]) + 3.5)
    sigmas = np.where(trail, 5.0, 2.0)
    growth = np.where(trail, np.inf, 4.0)
    expected = np.empty_like(states)
    propagate_pairs(states, dt, GM_SUN_AU3_PER_DAY2, expected)
    expected[:, 3:] *= tau
    base = per_au * np.maximum(geodist, floor)
    expected_radius = np.minimum(np.maximum(base, sigmas * geodist * rate_sigma
                                            * (np.abs(dt) + tau)), growth * base)
    assert (expected_radius > base).sum() > 20 and (expected_radius == growth * base).any()
    assert (expected_radius[trail] > 4.0 * base[trail]).any()
    radius = np.empty(n)
    labels = np.empty(n, dtype=np.int64)
    got = states.copy()
    cluster_projected(got, dt, geodist, rate_sigma, GM_SUN_AU3_PER_DAY2, tau, per_au, floor,
                      sigmas, growth, radius, labels)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(radius, expected_radius, rtol=1e-12)
    np.testing.assert_array_equal(_canonical(labels),
                                  _canonical(_brute_force_clusters(expected, expected_radius)))
    assert 1 < np.unique(labels).size < n


# --- one object on a known orbit with its exact hypothesis -----------------------------------

MAIN_BELT = (2.6, 0.18, 9.0, 40.0, 120.0, 30.0)
# An Aten 0.86-0.89 AU from the Sun and 0.27 AU from the observer, 53-62 deg from the Sun: its
# lines of sight cross the sphere r(t) twice and it is at the near crossing.
INNER_NEO = (0.85, 0.2, 8.0, 270.0, 60.0, 80.0)


def _single_object_tracklets(kepler=MAIN_BELT):
    """Pairs 30 min apart on 4 nights over 10 days of one orbit (a, e, i, Ω, ω, M at MJD
    61000 TDB, ecliptic) seen from X05, with the exact hypothesis and its epoch t_ref."""
    elements = keplerian_to_cartesian(*kepler).reshape(6)
    epoch = 61000.0
    state = np.concatenate((ECLIPTIC_TO_EQUATORIAL @ elements[:3],
                            ECLIPTIC_TO_EQUATORIAL @ elements[3:]))
    nights = np.array([0.0, 3.0, 7.0, 10.0])
    t_tdb = (epoch + 0.1 + nights[:, None] + np.array([0.0, 0.5 / 24.0])).ravel()
    observer = observer_states("X05", t_tdb, origin="sun")[:, :3]
    t_emit = t_tdb.copy()
    for _ in range(4):  # light time: the object where it was when the light left it
        position = np.empty((t_tdb.size, 6))
        propagate_pairs(np.repeat(state[None], t_tdb.size, axis=0), t_emit - epoch,
                        GM_SUN_AU3_PER_DAY2, position)
        line = position[:, :3] - observer
        t_emit = t_tdb - np.linalg.norm(line, axis=1) / C_AU_PER_DAY
    u = line / np.linalg.norm(line, axis=1)[:, None]
    ra = np.rad2deg(np.arctan2(u[:, 1], u[:, 0])) % 360.0
    dec = np.rad2deg(np.arcsin(u[:, 2]))
    s, e = np.arange(0, 8, 2), np.arange(1, 8, 2)
    t_tai = t_tdb - TT_MINUS_TAI_DAYS
    table = pd.DataFrame({
        "tracklet_id": np.arange(4), "night": np.arange(4), "n_detections": 2,
        "mjd_tai_start": t_tai[s], "mjd_tai_end": t_tai[e],
        "ra_start_deg": ra[s], "dec_start_deg": dec[s], "ra_end_deg": ra[e],
        "dec_end_deg": dec[e], "ra_rate_deg_per_day": 0.0, "dec_rate_deg_per_day": 0.0,
        # 0.01″ astrometry over the 30 minutes of a pair.
        "rate_err_deg_per_day": 0.01 / 3600.0 / (0.5 / 24.0 / np.sqrt(2.0)),
        "obs_start_x_au": observer[s, 0], "obs_start_y_au": observer[s, 1],
        "obs_start_z_au": observer[s, 2], "obs_end_x_au": observer[e, 0],
        "obs_end_y_au": observer[e, 1], "obs_end_z_au": observer[e, 2],
    })
    members = pd.DataFrame({"tracklet_id": np.repeat(np.arange(4), 2),
                            "diaSourceId": np.arange(100, 108)})
    t_ref = epoch + 5.1
    at_ref = np.empty((1, 6))
    propagate_pairs(state[None].copy(), np.array([t_ref - epoch]), GM_SUN_AU3_PER_DAY2, at_ref)
    x, v = at_ref[0, :3], at_ref[0, 3:]
    r = np.linalg.norm(x)
    rdot = x @ v / r
    rddot = (v @ v - rdot**2) / r - GM_SUN_AU3_PER_DAY2 / r**2
    exact = pd.DataFrame({"r_au": [r], "rdot_au_per_day": [rdot],
                          "mean_accel": [-rddot * r**2 / GM_SUN_AU3_PER_DAY2]})
    return Tracklets(table, members), exact, t_ref


def test_exact_hypothesis_links_the_object():
    tracklets, exact, t_ref = _single_object_tracklets()
    config = LinkingConfig(reference_mjd_tdb=t_ref)
    result = search_tracklets(tracklets, exact, config)
    assert len(result.linkages) == 1
    row = result.linkages.iloc[0]
    assert (row.n_tracklets, row.n_detections, row.n_nights, row.n_hypotheses) == (4, 8, 4, 1)
    assert row.arc_days == pytest.approx(10.0 + 0.5 / 24.0)
    assert row.r_au == exact.r_au[0]
    # The cluster's mean state is the object's state at t_ref: at the hypothesis' r and ṙ.
    assert row.epoch_mjd_tdb == t_ref
    x = row[["x_au", "y_au", "z_au"]].to_numpy(np.float64)
    v = row[["vx_au_per_day", "vy_au_per_day", "vz_au_per_day"]].to_numpy(np.float64)
    assert np.linalg.norm(x) == pytest.approx(exact.r_au[0], abs=1e-7)
    assert x @ v / np.linalg.norm(x) == pytest.approx(exact.rdot_au_per_day[0], abs=2e-6)
    assert result.members["diaSourceId"].tolist() == list(range(100, 108))
    # The exact hypothesis agrees to well within 1000 km at 1 AU (100 times tighter than the
    # default; what is left is the cubic term r(t) omits); 0.05 AU off it no longer does.
    tight = LinkingConfig(reference_mjd_tdb=t_ref, cluster_radius_au_at_1au=1e3 / AU_KM)
    assert len(search_tracklets(tracklets, exact, tight).linkages) == 1
    wrong = exact.assign(r_au=exact.r_au + 0.05)
    assert len(search_tracklets(tracklets, wrong, tight).linkages) == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_qualifying_components_match_reference(seed):
    rng = np.random.default_rng(seed)
    n = 120  # tracklets; two passes give 240 points
    tracklet_of = np.arange(2 * n) % n
    nights = rng.integers(0, 8, n)
    t_start = nights + rng.uniform(0.0, 0.2, n)
    t_end = t_start + rng.uniform(0.01, 0.06, n)
    # Components: labels are the smallest point index of each, some points in none.
    group = rng.integers(0, 40, 2 * n)
    labels = np.array([np.flatnonzero(group == g).min() for g in group])
    labels[rng.random(2 * n) < 0.1] = -1
    rows, row_offsets, groups, group_offsets, n_nights, arc = qualifying_components(
        labels, tracklet_of, nights, t_start, t_end, 3, 3, 1.0)
    expected = []
    for label in np.unique(labels[labels >= 0]):
        points = np.flatnonzero(labels == label)
        members = np.unique(tracklet_of[points])
        span = t_end[members].max() - t_start[members].min()
        if (members.size >= 3 and np.unique(nights[members]).size >= 3 and span >= 1.0):
            expected.append((points, members, np.unique(nights[members]).size, span))
    assert len(expected) > 5 and n_nights.size == len(expected)
    for k, (points, members, count, span) in enumerate(expected):
        np.testing.assert_array_equal(rows[row_offsets[k]: row_offsets[k + 1]], points)
        np.testing.assert_array_equal(groups[group_offsets[k]: group_offsets[k + 1]], members)
        assert n_nights[k] == count and arc[k] == span


def _selected_reference(states, dt, geodist, rddot, rate_sigma, max_v_inf, tolerance,
                        radius_per_au, min_geodist):
    """Which projected tracklets select_tracklets keeps, written out from its definition."""
    keep = []
    for s, step, rho, sigma in zip(states, dt, geodist, rate_sigma, strict=True):
        if not np.isfinite(s[0]):
            keep.append(False)
            continue
        x, v = s[:3], s[3:]
        r = np.linalg.norm(x)
        speed = np.linalg.norm(v)
        sigma_v = 3.0 * rho * sigma
        bound = speed - sigma_v <= np.sqrt(2.0 * GM_SUN_AU3_PER_DAY2 / r + max_v_inf**2)
        transverse = np.linalg.norm(np.cross(x, v)) / r
        implied = transverse**2 / r - GM_SUN_AU3_PER_DAY2 / r**2
        miss = max(abs(implied - rddot) - 2.0 * transverse * sigma_v / r, 0.0)
        near = 0.5 * miss * step**2 <= tolerance * radius_per_au * max(rho, min_geodist)
        keep.append(bool(bound and near))
    return np.array(keep)


@pytest.mark.parametrize("seed", [0, 1])
def test_tracklet_selection_matches_reference(seed):
    rng = np.random.default_rng(seed)
    n = 400
    r = rng.uniform(0.8, 4.0, n)
    direction = rng.normal(size=(n, 3))
    x = direction / np.linalg.norm(direction, axis=1)[:, None] * r[:, None]
    circular = np.sqrt(GM_SUN_AU3_PER_DAY2 / r)
    v = rng.normal(size=(n, 3)) * (circular * rng.uniform(0.2, 1.2, n))[:, None]
    states = np.column_stack((x, v))
    dt = rng.uniform(-7.0, 7.0, n)
    geodist = rng.uniform(0.05, 3.0, n)
    rate_sigma = rng.uniform(1e-7, 1e-4, n)
    rddot = -2.0e-5
    for max_v_inf, tolerance in ((0.0, 2.0), (0.01, 0.3)):
        expected = _selected_reference(states, dt, geodist, rddot, rate_sigma, max_v_inf,
                                       tolerance, 6.7e-4, 0.5)
        assert 50 < expected.sum() < n - 50  # both tests bite on this sample
        kept = [not foreign_to_hypothesis(*states[i], dt[i], geodist[i], rddot, rate_sigma[i],
                                          GM_SUN_AU3_PER_DAY2, max_v_inf, tolerance, 6.7e-4, 0.5)
                for i in range(n)]
        np.testing.assert_array_equal(kept, expected)


@pytest.mark.parametrize("seed", [0, 1])
def test_projected_points_match_reference(seed):
    """project_hypothesis: both endpoints projected, the state from them, the selection, and
    the kept points compacted in (pass, tracklet) order — against the references above."""
    rng = np.random.default_rng(seed)
    n = 300
    t_start = rng.uniform(60000.0, 60015.0, n)
    t_end = t_start + rng.uniform(0.01, 0.06, n)
    t_end[::41] = t_start[::41]  # no span: never a point
    u_start = rng.normal(size=(n, 3))
    u_start /= np.linalg.norm(u_start, axis=1)[:, None]
    u_end = u_start + rng.normal(scale=3e-5, size=(n, 3))
    u_end /= np.linalg.norm(u_end, axis=1)[:, None]
    o_start = rng.normal(size=(n, 3))
    o_start *= rng.uniform(0.98, 1.02, n)[:, None] / np.linalg.norm(o_start, axis=1)[:, None]
    o_end = o_start + rng.normal(scale=0.01, size=(n, 3)) * (t_end - t_start)[:, None]
    rate_sigma = rng.uniform(1e-7, 1e-5, n)
    t_ref, radius_per_au, min_geodist, tolerance = 60007.5, 6.7e-4, 0.5, 2.0
    # A hypothesis inside the observers' orbit, with its near pass, and one outside.
    for passes in (np.array([[0.9, -0.002, 2e-5], [0.9, -0.002, 2e-5]]),
                   np.array([[2.2, 0.003, -3e-5]])):
        near = np.arange(len(passes)) == 1
        expected_states, expected_rows, expected_dt, expected_geo = [], [], [], []
        for k, (r0, rdot, rddot) in enumerate(passes):
            rho_s, te_s = _reference_projection(t_start, u_start, o_start, r0, rdot, rddot,
                                                t_ref, 3, near[k])
            rho_e, te_e = _reference_projection(t_end, u_end, o_end, r0, rdot, rddot, t_ref, 3,
                                                near[k])
            ok = np.isfinite(rho_s) & np.isfinite(rho_e) & (te_e > te_s)
            p_s = o_start + rho_s[:, None] * u_start
            p_e = o_end + rho_e[:, None] * u_end
            states = np.column_stack((0.5 * (p_s + p_e), (p_e - p_s) / (te_e - te_s)[:, None]))
            step = t_ref - 0.5 * (te_s + te_e)
            geodist = 0.5 * (rho_s + rho_e)
            states[~ok] = np.nan
            keep = _selected_reference(states, step, geodist, rddot, rate_sigma, 0.0, tolerance,
                                       radius_per_au, min_geodist)
            expected_rows.append(k * n + np.flatnonzero(keep))
            expected_states.append(states[keep])
            expected_dt.append(step[keep])
            expected_geo.append(geodist[keep])
        rows = np.concatenate(expected_rows)
        assert 20 < rows.size < len(passes) * n - 20  # some points are left out, most kept
        states = np.full((len(passes) * n, 6), np.nan)
        dt, geodist = np.empty(len(passes) * n), np.empty(len(passes) * n)
        point_of = np.empty(len(passes) * n, dtype=np.int64)
        count = project_hypothesis(t_start, u_start, o_start, t_end, u_end, o_end, passes, near,
                                   t_ref, C_AU_PER_DAY, True, GM_SUN_AU3_PER_DAY2,
                                   radius_per_au, min_geodist, rate_sigma, 0.0, tolerance,
                                   states, dt, geodist, point_of)
        np.testing.assert_array_equal(point_of[:count], rows)
        np.testing.assert_allclose(states[:count], np.concatenate(expected_states), rtol=1e-9,
                                   atol=1e-12)
        np.testing.assert_allclose(dt[:count], np.concatenate(expected_dt), rtol=0, atol=1e-10)
        np.testing.assert_allclose(geodist[:count], np.concatenate(expected_geo), rtol=1e-12)
        # Beyond the points, at most the row of the last one tested and left out is written.
        assert np.isnan(states[count + 1:]).all()


def test_selection_keeps_the_object_and_drops_foreign_orbits():
    tracklets, exact, t_ref = _single_object_tracklets()
    config = LinkingConfig(reference_mjd_tdb=t_ref)
    # The exact hypothesis keeps every tracklet even with the tightest tolerance: the object's
    # own transverse speed implies the hypothesis' r̈.
    tight = replace(config, accel_tolerance=1e-3)
    assert search_tracklets(tracklets, exact, tight).linkages["n_tracklets"].tolist() == [4]
    # A hypothesis of another orbit family at the same r and ṙ (mean_accel 0.2 lower: r̈
    # 1.2e-5 AU/day² off, which moves the tracklets 5 days from t_ref by 1.5e-4 AU) still
    # clusters them without the test; with a tolerance below that miss (0.03 radii, ~3e-5 AU)
    # the test leaves them out.
    foreign = exact.assign(mean_accel=exact.mean_accel - 0.2)
    assert len(search_tracklets(tracklets, foreign, replace(config, accel_tolerance=1e9))
               .linkages) == 1
    assert len(search_tracklets(tracklets, foreign, replace(config, accel_tolerance=0.03))
               .linkages) == 0


def test_object_inside_the_earths_orbit_is_found_at_the_near_root(monkeypatch):
    tracklets, exact, t_ref = _single_object_tracklets(INNER_NEO)
    table = tracklets.tracklets
    observer = table[["obs_start_x_au", "obs_start_y_au", "obs_start_z_au"]].to_numpy()
    u = np.column_stack([
        np.cos(np.deg2rad(table.dec_start_deg)) * np.cos(np.deg2rad(table.ra_start_deg)),
        np.cos(np.deg2rad(table.dec_start_deg)) * np.sin(np.deg2rad(table.ra_start_deg)),
        np.sin(np.deg2rad(table.dec_start_deg))])
    b = (observer * u).sum(axis=1)
    # Two positive roots of |o + ρu| = r at every start (r < |o|, looking sunward).
    assert (b < 0).all() and (exact.r_au[0] < np.linalg.norm(observer, axis=1)).all()
    # The exact hypothesis links it at the default radius (the cubic term that r(t) omits is
    # ~5,000 km for this 0.7-year orbit over ±5 days, so a 10x tighter radius would not).
    config = LinkingConfig(reference_mjd_tdb=t_ref)
    result = search_tracklets(tracklets, exact, config)
    assert result.linkages["n_tracklets"].tolist() == [4]
    # Through the near crossing only: without that pass nothing links.
    monkeypatch.setattr(heliolinc, "_inside_observer", lambda rows, *_: np.zeros(len(rows), bool))
    assert len(search_tracklets(tracklets, exact, config).linkages) == 0


def test_two_objects_chained_together_are_split_night_by_night():
    """Two main-belt objects 0.03 deg apart on the sky, on nearly the same orbit: under the
    exact hypothesis of one their states are within the clustering radius, so single linkage
    joins them; each night then holds two tracklets ~100" apart, and the halved radius
    separates them into two linkages of one object each."""
    first, exact, t_ref = _single_object_tracklets()
    other, _, _ = _single_object_tracklets((*MAIN_BELT[:5], MAIN_BELT[5] + 0.02))
    table = pd.concat([first.tracklets, other.tracklets.assign(
        tracklet_id=other.tracklets.tracklet_id + 4)], ignore_index=True)
    members = pd.concat([first.members, other.members.assign(
        tracklet_id=other.members.tracklet_id + 4, diaSourceId=other.members.diaSourceId + 8)],
        ignore_index=True)
    both = Tracklets(table, members)
    config = LinkingConfig(reference_mjd_tdb=t_ref)
    result = search_tracklets(both, exact, config)
    assert sorted(result.members.groupby("linkage_id")["diaSourceId"].apply(list).tolist()) == [
        list(range(100, 108)), list(range(108, 116))]
    # Without splitting the chained cluster is not one object's: nothing is reported.
    assert len(search_tracklets(both, exact, replace(config, max_splits=0)).linkages) == 0
    # Without the night check (a tolerance wider than their separation) they stay together.
    merged = search_tracklets(both, exact, replace(config, same_night_tolerance_arcsec=3600.0))
    assert merged.linkages["n_detections"].tolist() == [16]


def test_progress_is_reported_per_batch_of_hypotheses():
    tracklets, exact, t_ref = _single_object_tracklets()
    grid = pd.concat([exact] * 20, ignore_index=True)
    reports = []
    result = search_tracklets(tracklets, grid, LinkingConfig(reference_mjd_tdb=t_ref, threads=1),
                              progress=reports.append)
    assert result.linkages["n_hypotheses"].tolist() == [20]  # one linkage, found 20 times
    # The stage's start, one report after each batch of 4 hypotheses per thread, its end.
    assert [(u.stage, u.done, u.total, u.unit) for u in reports] == [
        ("heliolinc", done, 20, "hypotheses") for done in (0, 4, 8, 12, 16, 20, 20)]
    assert reports[-1].finished and reports[-1].note == "1 linkages"
    assert not any(u.finished for u in reports[:-1])


def test_settings_and_inputs_are_validated():
    tracklets, exact, _ = _single_object_tracklets()
    with pytest.raises(ValueError, match="cluster_radius_au_at_1au must be finite and > 0"):
        search_tracklets(tracklets, exact, LinkingConfig(cluster_radius_au_at_1au=-1.0))
    with pytest.raises(ValueError, match="max_v_inf_km_per_s must be finite and >= 0"):
        search_tracklets(tracklets, exact, LinkingConfig(max_v_inf_km_per_s=-1.0))
    with pytest.raises(ValueError, match="accel_tolerance must be finite and > 0"):
        search_tracklets(tracklets, exact, LinkingConfig(accel_tolerance=0.0))
    with pytest.raises(ValueError, match="min_nights must be an integer >= 1"):
        search_tracklets(tracklets, exact, LinkingConfig(min_nights=0))
    with pytest.raises(ValueError, match=r"TrackletConfig.max_dt_h must be finite and > 0"):
        search_tracklets(tracklets, exact, LinkingConfig(tracklets=TrackletConfig(max_dt_h=0)))
    with pytest.raises(ValueError, match=r"hypotheses lack columns \['mean_accel'\]"):
        search_tracklets(tracklets, exact.drop(columns="mean_accel"))
    with pytest.raises(ValueError, match=r"hypotheses lack columns \['mean_accel'\]"):
        search_tracklets(tracklets, exact, trail_hypotheses=exact.drop(columns="mean_accel"))
    with pytest.raises(ValueError, match=r"LinkingConfig.trail_hypotheses must name a built-in "
                                         r"grid .*\(or be None\); got 'nowhere.txt'"):
        search_tracklets(tracklets, exact, LinkingConfig(trail_hypotheses="nowhere.txt"))
    with pytest.raises(ValueError, match=r"LinkingConfig.hypotheses must name a built-in grid "
                                         r"\(populations neo, mb, close, trojan, tno"):
        search_tracklets(tracklets, exact, LinkingConfig(hypotheses="mb+nea"))
    with pytest.raises(ValueError, match="trail_error_sigmas must be finite and >= 0"):
        search_tracklets(tracklets, exact, LinkingConfig(trail_error_sigmas=np.nan))
    broken = Tracklets(tracklets.tracklets.drop(columns="night"), tracklets.members)
    with pytest.raises(ValueError, match=r"lacks columns \['night'\]"):
        search_tracklets(broken, exact)


# --- ten simulated LSST objects --------------------------------------------------------------

@pytest.mark.parametrize("grid", ["mb+neo", "mb_213.txt"])
def test_ten_objects_are_all_found_in_pure_linkages(shared_data, grid):
    table, truth = ten_objects_detections(shared_data)
    if grid.endswith(".txt"):
        grid = shared_data / "linking" / "hypotheses" / grid
        if not grid.is_file():
            pytest.skip(f"{grid} not found")
        grid = str(grid)
    config = LinkingConfig(hypotheses=grid)
    result = find_candidates(table, config)
    classified = classify_linkages(result.members, truth)
    assert (classified["linkage_class"] == "pure").all()
    pure_objects = set(classified.loc[classified["found_pure"], "linked_object_id"])
    assert pure_objects == set(truth["object_id"])
    assert len(pure_objects) == 10
    assert (result.linkages["n_nights"] >= 3).all()
    assert (result.linkages["n_hypotheses"] >= 1).all()

    tracklets = make_tracklets(table, observatory_code="X05")
    hypotheses = load_hypotheses(grid)
    for threads in (1, 3):
        other = search_tracklets(tracklets, hypotheses, replace(config, threads=threads))
        pd.testing.assert_frame_equal(other.linkages, result.linkages)
        pd.testing.assert_frame_equal(other.members, result.members)

    shuffled = table.sample(frac=1.0, random_state=7).reset_index(drop=True)
    again = find_candidates(shuffled, config)
    pd.testing.assert_frame_equal(again.linkages, result.linkages)
    pd.testing.assert_frame_equal(again.members, result.members)


# --- hypotheses in work units on an executor -------------------------------------------------

@pytest.fixture(scope="module")
def process_pool():
    """One pool of two spawned worker processes for the module (starting one takes seconds)."""
    with make_executor("processes", 2) as executor:
        yield executor


@pytest.fixture(scope="module")
def ten_objects_search(shared_data):
    """Tracklets of the ten objects, the main-belt grid plus a slice of NEO hypotheses inside
    the Earth's orbit (two passes each), and the threads' candidates."""
    table, _ = ten_objects_detections(shared_data)
    tracklets = make_tracklets(table, observatory_code="X05")
    neo = hypothesis_grid("neo")
    hypotheses = pd.concat([hypothesis_grid("mb"), neo[neo["r_au"] < 1.0].iloc[::25]],
                           ignore_index=True)
    config = LinkingConfig(threads=2)
    return tracklets, hypotheses, config, search_tracklets(tracklets, hypotheses, config)


class _RecordingExecutor:
    """Anything with ``map`` is an executor: this one runs the units here and keeps them."""

    def __init__(self):
        self.units = []

    def map(self, func, units):
        self.units = list(units)
        return [func(unit) for unit in self.units]


def _assert_same_candidates(result, expected):
    pd.testing.assert_frame_equal(result.linkages, expected.linkages, check_exact=True)
    pd.testing.assert_frame_equal(result.members, expected.members, check_exact=True)


@pytest.mark.parametrize("unit_size", [None, 3])
def test_executors_find_the_threads_candidates(ten_objects_search, process_pool, monkeypatch,
                                               unit_size):
    """In one process or two, in units of 256 or 3 hypotheses: the candidates of the threads,
    byte for byte (first hypothesis and count of a linkage found across units included)."""
    tracklets, hypotheses, config, expected = ten_objects_search
    assert len(expected.linkages) >= 10 and (expected.linkages["n_hypotheses"] > 1).any()
    if unit_size is not None:  # units are cut in this process: the workers need not see it
        monkeypatch.setattr(heliolinc, "HYPOTHESES_PER_UNIT", unit_size)
    for executor in (SerialExecutor(), process_pool):
        _assert_same_candidates(
            search_tracklets(tracklets, hypotheses, config, executor=executor), expected)


def test_units_are_strided_hypotheses_and_progress_is_reported(ten_objects_search,
                                                                monkeypatch):
    tracklets, hypotheses, config, expected = ten_objects_search
    monkeypatch.setattr(heliolinc, "HYPOTHESES_PER_UNIT", 7)
    executor = _RecordingExecutor()
    reports = []
    result = search_tracklets(tracklets, hypotheses, config, progress=reports.append,
                              executor=executor)
    _assert_same_candidates(result, expected)
    n = len(hypotheses)
    n_units = -(-n // 7)
    assert [unit[1].tolist() for unit in executor.units] == [
        list(range(k, n, n_units)) for k in range(n_units)]
    for _, indices, rows, _ in executor.units:
        np.testing.assert_array_equal(rows[:, 0], hypotheses["r_au"].to_numpy()[indices])
    assert [(u.done, u.finished) for u in reports] == [(0, False), (n, False), (n, True)]
    assert reports[-1].note == f"{len(expected.linkages)} linkages"
    # No cluster in any unit: empty tables as with threads.
    lone, exact, t_ref = _single_object_tracklets()
    config = LinkingConfig(reference_mjd_tdb=t_ref, cluster_radius_au_at_1au=1e3 / AU_KM)
    wrong = exact.assign(r_au=exact.r_au + 0.05)
    _assert_same_candidates(search_tracklets(lone, wrong, config, executor=executor),
                            search_tracklets(lone, wrong, config))
    assert len(search_tracklets(lone, wrong, config, executor=executor).linkages) == 0


# --- built-in hypothesis grids ---------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(POPULATIONS))
def test_grid_covers_its_population(name):
    """Orbits drawn at random from the population (independently of the grid's lattice), each
    at a random grid distance it reaches and either sign of ṙ, have a hypothesis within one
    cell in ṙ and r̈."""
    pop = POPULATIONS[name]
    grid = hypothesis_grid(name)
    assert grid["r_au"].min() >= pop.r_min_au
    farthest = min(pop.r_max_au, pop.a_max_au * (1 + pop.e_max))
    assert farthest * 0.9 < grid["r_au"].max() <= farthest * 1.1
    rng = np.random.default_rng(3)
    distances = np.unique(grid["r_au"])
    checked = 0
    while checked < 300:
        a = np.exp(rng.uniform(np.log(pop.a_min_au), np.log(pop.a_max_au)))
        e = rng.uniform(0.0, pop.e_max)
        q, big_q = a * (1 - e), a * (1 + e)
        if not pop.q_min_au <= q <= pop.q_max_au:
            continue
        reachable = distances[(distances >= q) & (distances <= big_q)]
        if reachable.size == 0:
            continue
        r = rng.choice(reachable)
        # Radial velocity and acceleration from the vis-viva and angular-momentum integrals.
        p = a * (1 - e * e)
        rdot = np.sqrt(max(GM_SUN_AU3_PER_DAY2 * (2 / r - 1 / a - p / r**2), 0.0))
        rdot *= rng.choice([-1.0, 1.0])
        rddot = GM_SUN_AU3_PER_DAY2 * (p / r - 1) / r**2
        d = max(abs(r - 1.0), pop.d_min_au)
        rows = grid[grid["r_au"] == r]
        grid_rddot = -rows["mean_accel"] * GM_SUN_AU3_PER_DAY2 / r**2
        near = ((np.abs(rows["rdot_au_per_day"] - rdot) < RDOT_STEP_PER_DAY * d)
                & (np.abs(grid_rddot - rddot) < RDDOT_STEP_PER_DAY2 * d))
        assert near.any(), (name, a, e, r, rdot, rddot)
        checked += 1


def test_grid_names_and_files():
    both = hypothesis_grid("mb+neo")
    parts = pd.concat([hypothesis_grid("mb"), hypothesis_grid("neo")]).drop_duplicates()
    assert len(both) == len(parts)
    assert both.equals(both.sort_values(list(both.columns), ignore_index=True))
    assert len(hypothesis_grid("all")) > len(both)
    pd.testing.assert_frame_equal(load_hypotheses("tno"), hypothesis_grid("tno"))
    with pytest.raises(ValueError, match=r"unknown hypothesis grid 'mb\+nea'"):
        hypothesis_grid("mb+nea")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_hypotheses("mb+nea")  # neither a grid nor a file


@pytest.mark.parametrize("nside", [1, 2])
def test_coarse_sky_partitions_find_the_same_candidates(ten_objects_search, nside):
    """Each object's tracklets lie well within one pixel and its neighbours: the partitioned
    search finds exactly the candidates of the whole search, each once."""
    tracklets, hypotheses, config, expected = ten_objects_search
    _assert_same_candidates(
        search_tracklets(tracklets, hypotheses, replace(config, sky_nside=nside)), expected)


def _member_sets(candidates) -> dict:
    members = candidates.members.groupby("linkage_id")["diaSourceId"]
    return {frozenset(ids.tolist()): key for key, ids in members}


def test_fine_sky_partitions_keep_each_cluster_within_reach_once(ten_objects_search,
                                                                  process_pool):
    """Pixels smaller than the objects' motion: a candidate of the whole search is found when its
    tracklets start within its first tracklet's pixel or the 8 around it, and every candidate
    found is such a cluster."""
    tracklets, hypotheses, config, expected = ten_objects_search
    nside = 64  # 0.92° pixels: 11 of the 15 candidates stay within reach
    found = search_tracklets(tracklets, hypotheses, replace(config, sky_nside=nside),
                             executor=process_pool)
    table = tracklets.tracklets.sort_values("tracklet_id")
    pixel = pd.Series(hp.ang2pix(nside, table["ra_start_deg"].to_numpy(),
                                 table["dec_start_deg"].to_numpy(), nest=True, lonlat=True),
                      index=table["tracklet_id"].to_numpy())
    tracklet_of = tracklets.members.set_index("diaSourceId")["tracklet_id"]

    def within_reach(ids) -> bool:
        owners = np.unique(tracklet_of.loc[list(ids)].to_numpy())
        anchor = pixel[owners.min()]
        around = hp.get_all_neighbours(nside, anchor, nest=True)
        return bool(np.isin(pixel[owners].to_numpy(), [anchor, *around[around >= 0]]).all())

    whole, parts = _member_sets(expected), _member_sets(found)
    reachable = {ids for ids in whole if within_reach(ids)}
    assert 0 < len(reachable) < len(whole)  # both kinds occur at this resolution
    assert reachable <= set(parts)
    assert all(within_reach(ids) for ids in parts)
