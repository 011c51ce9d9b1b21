"""Time-scale conversions: offsets from the definitions of the scales."""

import numpy as np
import pytest
from astropy.time import Time
from astropy.utils import iers

from ephemerides.timescales import convert_mjd, to_mjd_tdb

SECOND = 1.0 / 86400.0


def test_never_downloads():
    assert iers.conf.auto_download is False


def test_tai_utc_is_leap_seconds():
    # 37 s since 2017-01-01 (IERS Bulletin C); 36 s in 2016; 35 s in 2013.
    assert (convert_mjd(60000.0, "utc", "tai") - 60000.0)[0] == pytest.approx(37 * SECOND, abs=1e-9)
    assert (convert_mjd(57400.0, "utc", "tai") - 57400.0)[0] == pytest.approx(36 * SECOND, abs=1e-9)
    assert (convert_mjd(56300.0, "utc", "tai") - 56300.0)[0] == pytest.approx(35 * SECOND, abs=1e-9)


def test_tt_tai_and_tdb_tt():
    # TT = TAI + 32.184 s exactly; TDB − TT is periodic with amplitude ~1.66 ms.
    mjd = np.linspace(59000.0, 59400.0, 50)
    assert np.allclose(convert_mjd(mjd, "tai", "tt") - mjd, 32.184 * SECOND, atol=1e-10)
    tdb_tt = (convert_mjd(mjd, "tt", "tdb") - mjd) / SECOND
    assert np.all(np.abs(tdb_tt) < 1.7e-3)
    assert tdb_tt.max() - tdb_tt.min() > 2.5e-3


def test_round_trip_and_time_objects():
    mjd = np.array([51544.5, 60000.25, 61000.75])
    back = convert_mjd(convert_mjd(mjd, "utc", "tdb"), "tdb", "utc")
    assert np.all(np.abs(back - mjd) < 1e-6 * SECOND * 1e3)  # < 1 ns
    t = Time(mjd, format="mjd", scale="tai")
    assert np.array_equal(to_mjd_tdb(t), convert_mjd(mjd, "tai", "tdb"))


def test_bad_scale_and_values():
    with pytest.raises(ValueError, match="use one of"):
        convert_mjd(60000.0, "ut1", "tdb")
    with pytest.raises(ValueError, match="finite"):
        to_mjd_tdb([60000.0, np.nan])


def test_earth_orientation_without_network(monkeypatch):
    """Loading the IERS tables afresh and using them must not open a connection."""
    import socket

    from ephemerides.observers import observer_states

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(iers.IERS_Auto, "iers_table", None)
    states = observer_states("X05", convert_mjd([60500.0, 61300.0], "utc", "tdb"))
    assert np.isfinite(states).all()


def test_future_utc_converts_without_erfa_warnings():
    """UTC beyond ERFA's leap-second table (2040) converts quietly (warnings are errors in
    this suite): one line on stderr stays one line; times beyond DE440 are refused instead."""
    from ephemerides.timescales import convert_mjd

    tdb = convert_mjd([66000.0], "utc", "tdb")
    assert abs((tdb[0] - 66000.0) * 86400.0 - (37.0 + 32.184)) < 0.01
    with pytest.raises(ValueError, match=r"de440\.bsp"):
        convert_mjd([1e9], "tdb", "utc")
