"""MPC 80-column records and ADES PSV, against values worked out by hand.

The four records of (8467) are real MPC observations. Expected RA/Dec are the sexagesimal
fields converted by hand; MJDs come from Python's calendar (days since 1858 Nov 17) and TAI-UTC
from the IERS leap-second history (19 s until 1981 Jul 1, 37 s since 2017 Jan 1), not from the
code under test.
"""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from linking.mpc_formats import (
    SUPPORTED_OBSERVATION_TYPES,
    UNSUPPORTED_OBSERVATION_TYPES,
    format_ades_psv,
    format_mpc80,
    read_mpc80,
    temporary_designation,
)

REAL_LINES = [
    "08467         C2021 03 19.29799310 41 44.914+13 22 18.64         17.79wU~4ggFF51",
    "08467         C2021 03 19.28206110 41 45.45 +13 22 17.3          17.88GV~4ggFG96",
    "08467J81E35S 6A1981 03 02.62373 12 03 22.44 +01 56 20.5                 M8503413",
    "08467        KC2021 03 11.57374 10 47 47.30 +13 14 21.1          18.0 Vq~4ffaQ21",
]
TEXT = "\n".join(REAL_LINES) + "\n"
SECOND = 1.0 / 86400.0
MAS_DEG = 1e-3 / 3600.0


def mjd(year: int, month: int, day: int) -> int:
    return (date(year, month, day) - date(1858, 11, 17)).days


def replace_columns(line: str, first: int, text: str) -> str:
    """``line`` with ``text`` written from 1-based column ``first`` on."""
    start = first - 1
    return line[:start] + text + line[start + len(text):]


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------


def test_real_records_parse_to_hand_values():
    assert all(len(line) == 80 for line in REAL_LINES)
    table = read_mpc80(TEXT)
    assert list(table.columns) == ["diaSourceId", "designation", "midpointMjdTai", "ra", "dec",
                                   "mag", "band", "observatoryCode", "note2"]
    assert table["diaSourceId"].dtype == np.int64
    assert table["diaSourceId"].tolist() == [0, 1, 2, 3]
    for column in ("midpointMjdTai", "ra", "dec", "mag"):
        assert table[column].dtype == np.float64
    # Number and provisional designation both present: the number wins.
    assert table["designation"].tolist() == ["8467"] * 4
    assert table["observatoryCode"].tolist() == ["F51", "G96", "413", "Q21"]
    assert table["note2"].tolist() == ["C", "C", "A", "C"]
    assert table["band"].tolist() == ["w", "G", "", "V"]
    np.testing.assert_array_equal(table["mag"].to_numpy()[[0, 1, 3]], [17.79, 17.88, 18.0])
    assert np.isnan(table["mag"].iloc[2])

    ra = [(10 + 41 / 60 + 44.914 / 3600) * 15, (10 + 41 / 60 + 45.45 / 3600) * 15,
          (12 + 3 / 60 + 22.44 / 3600) * 15, (10 + 47 / 60 + 47.30 / 3600) * 15]
    dec = [13 + 22 / 60 + 18.64 / 3600, 13 + 22 / 60 + 17.3 / 3600, 1 + 56 / 60 + 20.5 / 3600,
           13 + 14 / 60 + 21.1 / 3600]
    np.testing.assert_allclose(table["ra"], ra, rtol=0, atol=MAS_DEG)
    np.testing.assert_allclose(table["dec"], dec, rtol=0, atol=MAS_DEG)

    assert mjd(2021, 3, 19) == 59292
    utc = [59292.297993, 59292.282061, mjd(1981, 3, 2) + 0.62373, mjd(2021, 3, 11) + 0.57374]
    tai_minus_utc = np.array([37.0, 37.0, 19.0, 37.0])
    seconds = (table["midpointMjdTai"].to_numpy() - utc) * 86400.0
    np.testing.assert_allclose(seconds, tai_minus_utc, rtol=0, atol=1e-4)


def test_provisional_and_temporary_designations():
    provisional = replace_columns(REAL_LINES[2], 1, "     ")
    temporary = replace_columns(REAL_LINES[0], 1, "     S26W0a1")
    short_temporary = replace_columns(REAL_LINES[0], 1, "     ab1    ")
    table = read_mpc80(provisional + "\n" + temporary + "\n" + short_temporary + "\n")
    assert table["designation"].tolist() == ["1981 ES35", "S26W0a1", "ab1"]


def test_negative_declination_and_blank_lines_and_short_lines():
    line = replace_columns(REAL_LINES[0], 45, "-00 12 34.5 ")
    table = read_mpc80("\n" + line + "\n\n" + REAL_LINES[1].rstrip() + "\n")
    assert table["dec"].iloc[0] == pytest.approx(-(12 / 60 + 34.5 / 3600), abs=1e-12)
    assert table["dec"].iloc[0] < 0
    assert len(table) == 2
    assert table["diaSourceId"].tolist() == [0, 1]


def test_reads_from_path(tmp_path):
    path = tmp_path / "obs.txt"
    path.write_text(TEXT)
    from_path = read_mpc80(path)
    from_str = read_mpc80(str(path))
    pd.testing.assert_frame_equal(from_path, read_mpc80(TEXT))
    pd.testing.assert_frame_equal(from_str, read_mpc80(TEXT))
    bad = tmp_path / "bad.txt"
    bad.write_text(REAL_LINES[0] + "\n" + REAL_LINES[1][:77] + "\n")
    with pytest.raises(ValueError, match=r"bad\.txt, line 2"):
        read_mpc80(bad)


@pytest.mark.parametrize(
    ("first", "text", "columns"),
    [
        (16, "2021 13 19", "16-32"),  # no month 13
        (16, "2021 02 30", "16-32"),  # no Feb 30
        (16, "2021-03-19", "16-32"),
        (33, "10 60 44.914", "33-44"),  # RA minutes >= 60
        (33, "24 00 00.000", "33-44"),
        (45, "+13 22 60.00", "45-56"),
        (45, "+91 00 00.00", "45-56"),
        (45, " 13 22 18.64", "45-56"),  # sign missing
        (66, "17x79", "66-70"),
        (1, "     " + " " * 7, "1-12"),  # no designation
        (1, "08467", "column 15"),  # placeholder, replaced below
    ],
)
def test_malformed_lines_name_line_and_columns(first, text, columns):
    line = replace_columns(REAL_LINES[0], first, text)
    if columns == "column 15":
        line = replace_columns(line, 15, "?")
    with pytest.raises(ValueError, match=rf"<text>, line 2.*{columns}"):
        read_mpc80(REAL_LINES[1] + "\n" + line + "\n")


def test_missing_observatory_code_and_long_lines():
    with pytest.raises(ValueError, match=r"line 1, columns 78-80"):
        read_mpc80(REAL_LINES[0][:77] + "\n")
    with pytest.raises(ValueError, match=r"line 1, columns 78-80"):
        read_mpc80(REAL_LINES[0][:78] + "\n")
    with pytest.raises(ValueError, match=r"line 1: the line has 81 columns"):
        read_mpc80(REAL_LINES[0] + "X\n")


SATELLITE = [
    "     K26W00A  S2026 11 20.12345 03 09 23.44 +16 29 07.7          20.5 V     C51",
    "     K26W00A  s2026 11 20.12345 1 - 3815.7637 + 2891.2658 + 5218.7849       C51",
]


def test_unsupported_types_raise_or_skip():
    text = "\n".join([REAL_LINES[0], *SATELLITE, REAL_LINES[1]]) + "\n"
    with pytest.raises(ValueError, match=r"line 2, column 15: observation type 'S'") as info:
        read_mpc80(text)
    assert "unsupported='skip'" in str(info.value)
    assert "'C'" in str(info.value) or "C" in str(info.value).split("types")[1]
    with pytest.warns(UserWarning, match=r"skipped 2 unsupported line\(s\).*'S'.*'s'"):
        table = read_mpc80(text, unsupported="skip")
    assert table["observatoryCode"].tolist() == ["F51", "G96"]
    assert table["diaSourceId"].tolist() == [0, 1]
    deleted = replace_columns(REAL_LINES[0], 15, "X")
    with pytest.raises(ValueError, match=r"line 1, column 15: observation type 'X'"):
        read_mpc80(deleted + "\n")
    with pytest.raises(ValueError, match="unsupported"):
        read_mpc80(TEXT, unsupported="ignore")


def test_type_tables_are_disjoint_and_single_characters():
    assert not set(SUPPORTED_OBSERVATION_TYPES) & set(UNSUPPORTED_OBSERVATION_TYPES)
    assert all(len(k) == 1 for k in [*SUPPORTED_OBSERVATION_TYPES,
                                      *UNSUPPORTED_OBSERVATION_TYPES])
    assert {"C", "B", "P", " ", "A"} <= set(SUPPORTED_OBSERVATION_TYPES)


# ------------------------------------------------------------------------------------------------
# Temporary designations
# ------------------------------------------------------------------------------------------------


def test_temporary_designation_known_values():
    day = mjd(2026, 11, 25)
    assert temporary_designation(day, 0) == "S26W000"
    assert temporary_designation(day + 0.99, 62**3 - 1) == "S26Wzzz"
    assert temporary_designation(day, 62) == "S26W010"
    assert temporary_designation(day, 61, prefix="t") == "t26W00z"
    assert temporary_designation(mjd(2026, 1, 15) + 0.9, 0) == "S26A000"
    assert temporary_designation(mjd(2026, 1, 16), 0) == "S26B000"
    assert temporary_designation(mjd(2026, 9, 1), 0) == "S26R000"  # I is skipped: Sep 1 = R
    assert temporary_designation(mjd(2030, 12, 31), 10) == "S30Y00A"
    for sequence in (0, 1234, 62**3 - 1):
        value = temporary_designation(day, sequence)
        assert len(value) == 7 and value.isascii() and value.isalnum()


@pytest.mark.parametrize("prefix", ["I", "J", "K", "L", "SS", "", "1", "_", "é"])
def test_temporary_designation_rejects_bad_prefix(prefix):
    with pytest.raises(ValueError, match="prefix"):
        temporary_designation(61369.0, 0, prefix=prefix)


@pytest.mark.parametrize("sequence", [-1, 62**3, 1.0, True])
def test_temporary_designation_rejects_bad_sequence(sequence):
    with pytest.raises(ValueError, match="sequence"):
        temporary_designation(61369.0, sequence)


# ------------------------------------------------------------------------------------------------
# Writing the 80-column format
# ------------------------------------------------------------------------------------------------


def random_table(seed: int = 7, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    kinds = rng.integers(0, 3, n)
    designations = []
    for i, kind in enumerate(kinds):
        if kind == 0:
            designations.append(str(int(rng.integers(1, 800_000))))
        elif kind == 1:
            half = "ABCDEFGHJKLMNOPQRSTUVWXY"[rng.integers(0, 24)]
            letter = "ABCDEFGHJKLMNOPQRSTUVWXYZ"[rng.integers(0, 25)]
            cycle = int(rng.integers(0, 700))
            designations.append(f"20{rng.integers(10, 27)} {half}{letter}{cycle or ''}")
        else:
            designations.append(temporary_designation(60000.0, i))
    mag = rng.uniform(14.0, 24.5, n)
    mag[rng.random(n) < 0.2] = np.nan
    return pd.DataFrame({
        "diaSourceId": np.arange(n, dtype=np.int64),
        "designation": designations,
        "midpointMjdTai": rng.uniform(58000.0, 61300.0, n),
        "ra": rng.uniform(0.0, 360.0, n),
        "dec": np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n))),
        "mag": mag,
        "band": rng.choice(list("ugrizy"), n),
        "observatoryCode": rng.choice(["X05", "F51", "500"], n),
    })


def test_round_trip():
    table = random_table()
    text = format_mpc80(table)
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) == len(table) + 1
    assert all(len(line) == 80 for line in lines[:-1])
    back = read_mpc80(text)
    assert back["designation"].tolist() == table["designation"].tolist()
    assert back["observatoryCode"].tolist() == table["observatoryCode"].tolist()
    assert back["band"].tolist() == table["band"].tolist()
    assert back["note2"].tolist() == ["C"] * len(table)
    seconds = np.abs(back["midpointMjdTai"] - table["midpointMjdTai"]).to_numpy() * 86400.0
    assert seconds.max() < 0.05  # 1e-6 day is 0.0864 s: half of it plus float noise
    dra = (back["ra"] - table["ra"] + 180.0) % 360.0 - 180.0
    # 0.001 s of time is 0.015" of RA; rounding to it errs by at most 0.0075".
    assert (np.abs(dra) * 3600.0).max() <= 0.0075 + 1e-6
    ddec = np.abs(back["dec"] - table["dec"]) * 3600.0
    assert ddec.max() <= 0.005 + 1e-6
    np.testing.assert_allclose(back["mag"], table["mag"], rtol=0, atol=0.005 + 1e-9)
    assert np.array_equal(np.isnan(back["mag"]), np.isnan(table["mag"]))


def test_known_line_layout():
    # 2021-03-19 07:09:06 UTC is 0.297986111 day; TAI is 37 s later.
    tai = 59292 + (7 * 3600 + 9 * 60 + 6 + 37) / 86400.0
    table = pd.DataFrame({
        "designation": ["8467", "2026 WA12", "S26W000"],
        "midpointMjdTai": [tai] * 3,
        "ra": [(10 + 41 / 60 + 44.914 / 3600) * 15] * 3,
        "dec": [13 + 22 / 60 + 18.64 / 3600, -(12 / 60 + 34.5 / 3600), -90.0],
        "mag": [17.79, np.nan, 9.5],
        "band": ["w", "", "V"],
        "discovery": [False, True, False],
        "observatoryCode": ["F51", "X05", "500"],
    })
    lines = format_mpc80(table).splitlines()
    assert lines[0] == (
        "08467         C2021 03 19.29798610 41 44.914+13 22 18.64         17.79w      F51"
    )
    assert lines[1] == (
        "     K26W12A* C2021 03 19.29798610 41 44.914-00 12 34.50                     X05"
    )
    assert lines[2] == (
        "     S26W000  C2021 03 19.29798610 41 44.914-90 00 00.00          9.50V      500"
    )


def test_rounding_carries():
    ra = (23 + 59 / 60 + 59.9997 / 3600) * 15.0
    ra_minute = (10 + 41 / 60 + 59.9996 / 3600) * 15.0
    # 23:59:59.99999 UTC on 2021-03-19, TAI = UTC + 37 s.
    late = 59292 + (86400.0 - 1e-5 + 37.0) / 86400.0
    table = pd.DataFrame({
        "designation": ["8467", "8467", "8467"],
        "midpointMjdTai": [59292.5, 59292.5, late],
        "ra": [ra, ra_minute, 10.0],
        "dec": [13 + 59 / 60 + 59.996 / 3600, -(59 / 60 + 59.999 / 3600), -1e-9],
        "observatoryCode": ["F51"] * 3,
    })
    lines = format_mpc80(table).splitlines()
    assert lines[0][32:44] == "00 00 00.000"
    assert lines[1][32:44] == "10 42 00.000"
    assert lines[0][44:56] == "+14 00 00.00"
    assert lines[1][44:56] == "-01 00 00.00"
    assert lines[2][15:32] == "2021 03 20.000000"
    back = read_mpc80("\n".join(lines) + "\n")
    assert back["ra"].iloc[0] == 0.0
    assert back["midpointMjdTai"].iloc[2] == pytest.approx(59293 + 37 / 86400, abs=1e-9)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop(columns="observatoryCode"), r"lacks the column\(s\) \['observat"),
        (lambda t: t.assign(ra=[1.0, np.nan]), r"column 'ra'.*row 1"),
        (lambda t: t.assign(ra=[1.0, 360.0]), r"column 'ra'.*\[0, 360\).*row 1"),
        (lambda t: t.assign(dec=[1.0, -90.5]), r"column 'dec'.*row 1"),
        (lambda t: t.assign(midpointMjdTai=[np.inf, 59000.0]), r"'midpointMjdTai'.*row 0"),
        (lambda t: t.assign(observatoryCode=["F51", "F5"]), r"'observatoryCode'.*row 1"),
        (lambda t: t.assign(observatoryCode=["F51", " 51"]), r"'observatoryCode'.*row 1"),
        (lambda t: t.assign(designation=["8467", "no space"]), r"'designation', row 1"),
        (lambda t: t.assign(designation=["S26W0000", "8467"]), r"'designation', row 0"),
        (lambda t: t.assign(designation=["J95X00A", "8467"]), r"'designation', row 0.*packed"),
        (lambda t: t.assign(mag=[17.0, np.inf]), r"'mag'.*row 1"),
        (lambda t: t.assign(band=["g", "rr"]), r"'band'.*row 1"),
        (lambda t: t.assign(note2=["C", "S"]), r"'note2'.*row 1"),
    ],
)
def test_format_validation(change, message):
    table = pd.DataFrame({
        "designation": ["8467", "2026 WA12"],
        "midpointMjdTai": [59000.0, 59000.1],
        "ra": [1.0, 2.0],
        "dec": [3.0, 4.0],
        "observatoryCode": ["F51", "X05"],
    })
    format_mpc80(table)  # the unchanged table is fine
    with pytest.raises(ValueError, match=message):
        format_mpc80(change(table))
    with pytest.raises(ValueError, match=message):
        format_ades_psv(change(table))


def test_mpc80_magnitude_must_fit():
    table = pd.DataFrame({"designation": ["8467", "8467"], "midpointMjdTai": [59000.0] * 2,
                          "ra": [1.0] * 2, "dec": [2.0] * 2, "observatoryCode": ["F51"] * 2,
                          "mag": [17.0, 123.4]})
    with pytest.raises(ValueError, match=r"'mag', row 1.*xx\.xx"):
        format_mpc80(table)
    assert "123.40" in format_ades_psv(table.assign(observatoryCode="X05"))


# ------------------------------------------------------------------------------------------------
# ADES PSV
# ------------------------------------------------------------------------------------------------


def parse_psv(text: str) -> tuple[list[str], list[list[str]], list[list[dict]]]:
    """Header lines, raw data lines per section and rows as dicts per section."""
    headers, raw, sections = [], [], []
    columns = None
    for line in text.splitlines():
        if line.startswith(("#", "!")):
            headers.append(line)
            columns = None
            continue
        if columns is None:
            columns = [c.strip() for c in line.split("|")]
            raw.append([line])
            sections.append([])
            continue
        raw[-1].append(line)
        sections[-1].append(dict(zip(columns, (v.strip() for v in line.split("|")), strict=True)))
    return headers, raw, sections


def test_ades_psv_content():
    tai = 59292 + (7 * 3600 + 9 * 60 + 6 + 37) / 86400.0
    table = pd.DataFrame({
        "designation": ["8467", "2026 WA12", "S26W000", "8467"],
        "midpointMjdTai": [tai, tai + 1.0, tai + 2.0, tai + 3.0],
        "ra": [160.437141667, 359.9999999999, 0.5, 12.25],
        "dec": [13.371844444, -0.5, 45.0, -30.125],
        "raErr": [0.1 / 3600, np.nan, 0.2 / 3600, 0.05 / 3600],
        "decErr": [0.15 / 3600, np.nan, 0.2 / 3600, 0.05 / 3600],
        "mag": [17.79, np.nan, 21.0, 20.5],
        "magErr": [0.05, np.nan, 0.2, np.nan],
        "band": ["w", "", "r", "g"],
        "observatoryCode": ["X05", "F51", "X05", "F51"],
    })
    # F51 has no telescope the writer knows: it must be given.
    with pytest.raises(ValueError, match="observatory code 'F51' needs its telescope"):
        format_ades_psv(table)
    text = format_ades_psv(table, submitter="A. Submitter", observers=["B. One", "C. Two"],
                           measurers="D. Measurer",
                           telescope={"design": "Reflector", "aperture": "1.8", "detector": "CCD"})
    headers, raw, sections = parse_psv(text)
    assert text.splitlines()[0] == "# version=2022"
    assert headers.count("# observatory") == 2
    assert [h for h in headers if h.startswith("! mpcCode")] == ["! mpcCode F51", "! mpcCode X05"]
    for line in ("# submitter", "! name A. Submitter", "# observers", "! name B. One",
                 "! name C. Two", "# measurers", "! name D. Measurer", "# telescope",
                 "! design Reflector", "! detector CCD"):
        assert line in headers
    assert any(h.startswith("! aperture ") for h in headers)
    assert all(line == line.rstrip() for line in text.splitlines())
    for lines in raw:
        assert [c.strip() for c in lines[0].split("|")] == [
            "permID", "provID", "trkSub", "mode", "stn", "obsTime", "ra", "dec", "rmsRA",
            "rmsDec", "astCat", "mag", "rmsMag", "band"]
        pipes = [i for i, ch in enumerate(lines[0]) if ch == "|"]
        for line in lines[1:]:
            assert [i for i, ch in enumerate(line) if ch == "|"] == pipes  # aligned

    f51, x05 = sections
    assert [r["stn"] for r in f51] == ["F51", "F51"]
    assert [r["stn"] for r in x05] == ["X05", "X05"]
    first, temporary = x05
    assert first["obsTime"] == "2021-03-19T07:09:06.000Z"
    assert (first["permID"], first["provID"], first["trkSub"]) == ("8467", "", "")
    assert float(first["ra"]) == pytest.approx(160.437141667, abs=1e-9)
    assert float(first["dec"]) == pytest.approx(13.371844444, abs=1e-8)
    assert float(first["rmsRA"]) == pytest.approx(0.1, abs=1e-4)
    assert float(first["rmsDec"]) == pytest.approx(0.15, abs=1e-4)
    assert (first["mag"], first["rmsMag"], first["band"], first["astCat"], first["mode"]) == (
        "17.79", "0.050", "w", "Gaia3", "CCD")
    assert (temporary["permID"], temporary["provID"], temporary["trkSub"]) == ("", "", "S26W000")
    assert temporary["obsTime"] == "2021-03-21T07:09:06.000Z"
    provisional, numbered = f51
    assert (provisional["permID"], provisional["provID"], provisional["trkSub"]) == (
        "", "2026 WA12", "")
    assert provisional["ra"] == "0.000000000"  # 359.9999999999 rounds to 360 and wraps
    assert provisional["dec"] == "-0.50000000"
    assert provisional["rmsRA"] == provisional["rmsDec"] == provisional["mag"] == ""
    assert numbered["permID"] == "8467" and numbered["rmsMag"] == ""


def test_ades_time_carry_and_telescope():
    late = 59292 + (86400.0 - 0.0004 + 37.0) / 86400.0  # 23:59:59.9996 UTC
    table = pd.DataFrame({"designation": ["8467"], "midpointMjdTai": [late], "ra": [1.0],
                          "dec": [2.0], "observatoryCode": ["X05"], "note2": ["B"]})
    text = format_ades_psv(table, telescope={"design": "Reflector", "aperture": "8.4",
                                             "detector": "CCD", "name": "Rubin"})
    _, _, sections = parse_psv(text)
    assert sections[0][0]["obsTime"] == "2021-03-20T00:00:00.000Z"
    assert sections[0][0]["mode"] == "CMO"
    assert "! aperture 8.4" in text and "! name Rubin" in text
    assert "# submitter" not in text  # empty names leave the block out
    with pytest.raises(ValueError, match="telescope"):
        format_ades_psv(table, telescope={"design": "Reflector"})
    for key, value in (("aperture", "abc"), ("aperture", "-1"), ("fRatio", "0")):
        scope = {"design": "Reflector", "aperture": "8.4", "detector": "CCD", key: value}
        with pytest.raises(ValueError, match=rf"telescope\['{key}'\]='{value}': give a "
                           "positive number"):
            format_ades_psv(table, telescope=scope)
    # Rubin's own telescope without one given, never a made-up aperture.
    rubin = format_ades_psv(table)
    assert "! name Simonyi Survey Telescope" in rubin and "! aperture 8.4" in rubin
    with pytest.raises(ValueError, match="raErr"):
        format_ades_psv(table.assign(raErr=[-1.0]))
    # An uncertainty that would be written as 0.0000 (which ADES, and read_ades, refuse).
    with pytest.raises(ValueError, match=r"column 'decErr': uncertainties must be >= 1.39e-08"):
        format_ades_psv(table.assign(decErr=[1e-9]))
    with pytest.raises(ValueError, match="column 'raErr'"):
        format_ades_psv(table.assign(raErr=[0.0]))


def test_comet_and_extended_designations_round_trip():
    names = ["1P", "C/1995 O1", "2040 P-L", "2026 CA620", "100345", "ab"]
    table = pd.DataFrame({"designation": names, "midpointMjdTai": [59000.0] * 6,
                          "ra": [1.0] * 6, "dec": [2.0] * 6, "observatoryCode": ["500"] * 6})
    lines = format_mpc80(table).splitlines()
    assert [line[:12] for line in lines] == [
        "0001P       ", "    CJ95O010", "     PLS2040", "     _QC0000", "A0345       ",
        "     ab     "]
    assert read_mpc80("\n".join(lines) + "\n")["designation"].tolist() == names
