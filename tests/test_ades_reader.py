"""ADES reader (PSV and XML) against values worked out by hand, the 80-column reader and the
ADES PSV writer.

The three observations of (8467) in ``AGREE_LINES`` are real MPC records from
``tests/data/mpc_8467_2021.obs``; their ADES forms below were converted by hand: the day
fraction to a clock time (0.360200 d = 31121.28 s = 08:38:41.28), RA hours-minutes-seconds and
Dec degrees-arcminutes-arcseconds to decimal degrees.
"""

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linking.mpc_formats import format_ades_psv, read_ades, read_mpc80

DATA = Path(__file__).parent / "data"
COLUMNS = ["diaSourceId", "designation", "midpointMjdTai", "ra", "dec", "raErr", "decErr",
           "rmsCorr", "mag", "band", "observatoryCode", "mode", "astCat"]
FLOATS = ["midpointMjdTai", "ra", "dec", "raErr", "decErr", "rmsCorr", "mag"]
TEXTS = ["designation", "band", "observatoryCode", "mode", "astCat"]
SECOND = 1.0 / 86400.0
TAI_MINUS_UTC = 37.0 * SECOND  # since 2017 Jan 1


def mjd(year: int, month: int, day: int) -> int:
    return (date(year, month, day) - date(1858, 11, 17)).days


def assert_schema(table: pd.DataFrame) -> None:
    assert list(table.columns) == COLUMNS
    assert table["diaSourceId"].dtype == np.int64
    assert table["diaSourceId"].tolist() == list(range(len(table)))
    for column in FLOATS:
        assert table[column].dtype == np.float64, column
    for column in TEXTS:
        assert table[column].dtype == object, column
        assert all(isinstance(v, str) for v in table[column]), column


# ------------------------------------------------------------------------------------------------
# PSV
# ------------------------------------------------------------------------------------------------

TWO_BLOCKS = (
    "# version=2017\n"
    "# observatory\n"
    "! mpcCode F51\n"
    "# telescope\n"
    "! design Reflector\n"
    "  permID |  provID   | trkSub  |        obsTime          |     ra      |     dec     "
    "| stn | rmsRA | rmsDec | mag   | band | mode | astCat\n"
    "  8467   |           |         | 2021-02-19T08:38:41.28Z | 166.1825833 |  12.5331944 "
    "| F51 | 0.100 | 0.200  | 17.60 | r    | CCD  | Gaia2\n"
    "         | 2021 AB12 | S26W000 | 2021-02-19T08:38:41     |   0.5       | -12.25      "
    "| f51 |       |        |       |      |      |\n"
    "\n"
    "# observatory\n"
    "! mpcCode I41\n"
    "obsTime|stn|dec|ra|trkSub|rmsCorr|rmsMag|remarks\n"
    "2021-03-01T00:00:00.123456789|I41|-90|359.999999|ab1|-0.5|0.05|anything at all\n"
)


def test_psv_two_blocks_padding_any_order():
    table = read_ades(TWO_BLOCKS)
    assert_schema(table)
    assert table["designation"].tolist() == ["8467", "2021 AB12", "ab1"]
    assert table["observatoryCode"].tolist() == ["F51", "F51", "I41"]  # upper-cased
    np.testing.assert_array_equal(table["ra"], [166.1825833, 0.5, 359.999999])
    np.testing.assert_array_equal(table["dec"], [12.5331944, -12.25, -90.0])
    np.testing.assert_allclose(table["raErr"].iloc[0], 0.1 / 3600, rtol=1e-15)
    np.testing.assert_allclose(table["decErr"].iloc[0], 0.2 / 3600, rtol=1e-15)
    assert table["mag"].iloc[0] == 17.60
    assert (table["band"].iloc[0], table["mode"].iloc[0], table["astCat"].iloc[0]) == (
        "r", "CCD", "Gaia2")
    assert table["rmsCorr"].iloc[2] == -0.5
    # Times, from the calendar by hand: TAI = UTC + 37 s.
    utc = [mjd(2021, 2, 19) + 31121.28 * SECOND, mjd(2021, 2, 19) + 31121.0 * SECOND,
           mjd(2021, 3, 1) + 0.123456789 * SECOND]
    seconds = (table["midpointMjdTai"].to_numpy() - np.array(utc) - TAI_MINUS_UTC) * 86400.0
    np.testing.assert_allclose(seconds, 0.0, atol=2e-6)


def test_missing_optional_fields_are_nan_or_empty():
    table = read_ades(TWO_BLOCKS)
    for column in ("raErr", "decErr", "rmsCorr", "mag"):
        assert np.isnan(table[column].iloc[1]), column
    for column in ("band", "mode", "astCat"):
        assert table[column].iloc[1] == "" and table[column].iloc[2] == "", column
    assert np.isnan(table["raErr"].iloc[2]) and np.isnan(table["mag"].iloc[2])
    assert np.isnan(table["rmsCorr"].iloc[0])


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (("8467", "2021 AB12", "S26W000"), "8467"),
        (("1P", "", "S26W000"), "1P"),
        (("", "2021 AB12", "S26W000"), "2021 AB12"),
        (("", "", "S26W000"), "S26W000"),
    ],
)
def test_designation_precedence(fields, expected):
    permID, provID, trkSub = fields
    text = ("permID|provID|trkSub|obsTime|ra|dec|stn\n"
            f"{permID}|{provID}|{trkSub}|2021-02-19T08:38:41Z|1|2|X05\n")
    assert read_ades(text)["designation"].tolist() == [expected]
    xml = "<ades version=\"2022\"><optical>" + "".join(
        f"<{name}>{value}</{name}>" for name, value in zip(
            ("trkSub", "provID", "permID"), (trkSub, provID, permID), strict=True) if value
    ) + "<obsTime>2021-02-19T08:38:41Z</obsTime><ra>1</ra><dec>2</dec><stn>X05</stn>" \
        "</optical></ades>"
    assert read_ades(xml)["designation"].tolist() == [expected]


def test_leap_second_and_decimals():
    text = ("trkSub|obsTime|ra|dec|stn\n"
            "a|2016-12-31T23:59:60.5Z|1|2|X05\n"
            "b|2017-01-01T00:00:00|1|2|X05\n")
    table = read_ades(text)
    # 23:59:60.5 UTC is 36.5 s after midnight TAI (TAI - UTC became 37 s at the leap).
    tai = table["midpointMjdTai"].to_numpy()
    np.testing.assert_allclose((tai - mjd(2017, 1, 1)) * 86400.0, [36.5, 37.0], atol=2e-6)


# ------------------------------------------------------------------------------------------------
# XML
# ------------------------------------------------------------------------------------------------

OBSERVATION_FORM = """\
<?xml version="1.0" encoding="UTF-8"?>
<ades version="2022">
  <obsBlock>
    <obsContext>
      <observatory><mpcCode>F51</mpcCode></observatory>
      <submitter><name>J. Müller</name></submitter>
      <telescope><design>Reflector</design><aperture>1.8</aperture></telescope>
    </obsContext>
    <obsData>
      <optical>
        <permID>8467</permID><mode>CCD</mode><stn>F51</stn>
        <obsTime>2021-02-19T08:38:41.28Z</obsTime>
        <ra>166.1825833</ra><dec>12.5331944</dec>
        <rmsRA>0.100</rmsRA><rmsDec>0.200</rmsDec><astCat>Gaia2</astCat>
        <mag>17.60</mag><band>r</band><notes>ignored</notes>
      </optical>
      <optical>
        <provID>2021 AB12</provID><trkSub>S26W000</trkSub><stn>f51</stn>
        <obsTime>2021-02-19T08:38:41</obsTime><ra>0.5</ra><dec>-12.25</dec>
      </optical>
    </obsData>
  </obsBlock>
  <obsBlock>
    <obsContext><observatory><mpcCode>I41</mpcCode></observatory></obsContext>
    <obsData>
      <optical>
        <obsTime>2021-03-01T00:00:00.123456789</obsTime><stn>I41</stn><dec>-90</dec>
        <ra>359.999999</ra><trkSub>ab1</trkSub><rmsCorr>-0.5</rmsCorr><rmsMag>0.05</rmsMag>
        <mag></mag>
      </optical>
    </obsData>
  </obsBlock>
</ades>
"""
SUBMISSION_FORM = re.sub(r"\s*</?obs(Block|Data)>|\s*<obsContext>.*?</obsContext>", "",
                         OBSERVATION_FORM, flags=re.DOTALL)


def test_xml_both_forms_equal_psv():
    psv = read_ades(TWO_BLOCKS)
    assert "<obsBlock>" not in SUBMISSION_FORM and "<optical>" in SUBMISSION_FORM
    for text in (OBSERVATION_FORM, SUBMISSION_FORM, "\ufeff\n  " + OBSERVATION_FORM.split(
            "\n", 1)[1]):
        table = read_ades(text)
        assert_schema(table)
        pd.testing.assert_frame_equal(table, psv)


def test_xml_on_one_line_and_from_files(tmp_path):
    one_line = SUBMISSION_FORM.split("\n", 1)[1].replace("\n", "")
    pd.testing.assert_frame_equal(read_ades(one_line), read_ades(TWO_BLOCKS))
    for name, text in (("obs.xml", OBSERVATION_FORM), ("obs.psv", TWO_BLOCKS)):
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))  # with a byte-order mark
        pd.testing.assert_frame_equal(read_ades(path), read_ades(TWO_BLOCKS))
        pd.testing.assert_frame_equal(read_ades(str(path)), read_ades(TWO_BLOCKS))


def test_empty_inputs_give_empty_tables(tmp_path):
    empty = tmp_path / "empty.psv"
    empty.write_text("")
    assert len(read_mpc80(empty)) == 0  # the 80-column reader does the same
    for source in (empty, "\n", "# version=2022\n# observatory\n! mpcCode X05\n",
                   "permID|obsTime|ra|dec|stn\n", "<ades version=\"2022\"/>",
                   "<ades><obsBlock><obsContext/><obsData/></obsBlock></ades>"):
        table = read_ades(source)
        assert len(table) == 0
        assert_schema(table)


# ------------------------------------------------------------------------------------------------
# Round trip and agreement with the 80-column reader
# ------------------------------------------------------------------------------------------------


def test_round_trip_through_format_ades_psv():
    tai = mjd(2021, 3, 19) + np.array([0.1234567891, 0.5, 0.999999, 1.25, 2.0001])
    table = pd.DataFrame({
        "designation": ["8467", "2026 WA12", "S26W000", "1P", "C/1995 O1"],
        "midpointMjdTai": tai,
        "ra": [160.4371416671, 0.000000001, 359.5, 12.25, 200.0],
        "dec": [13.371844444, -0.5, 89.99999999, -89.0, 0.0],
        "raErr": [0.1 / 3600, np.nan, 0.2 / 3600, 0.05 / 3600, 1.5 / 3600],
        "decErr": [0.15 / 3600, np.nan, 0.2 / 3600, 0.05 / 3600, 2.0 / 3600],
        "mag": [17.79, np.nan, 21.0, 20.5, 12.0],
        "magErr": [0.05, np.nan, 0.2, np.nan, 0.1],
        "band": ["w", "", "r", "g", "V"],
        "observatoryCode": ["X05", "F51", "X05", "F51", "I41"],
    })
    text = format_ades_psv(table, submitter="A. Submitter", observers="B. Observer",
                           measurers="C. Measurer",
                           telescope={"design": "Reflector", "aperture": "1.8", "detector": "CCD"})
    back = read_ades(text)
    assert_schema(back)
    # The writer groups rows by observatory code (sorted), in row order within a code.
    expected = table.sort_values("observatoryCode", kind="stable").reset_index(drop=True)
    assert back["designation"].tolist() == expected["designation"].tolist()
    assert back["observatoryCode"].tolist() == expected["observatoryCode"].tolist()
    assert back["band"].tolist() == expected["band"].tolist()
    assert back["mode"].tolist() == ["CCD"] * 5 and back["astCat"].tolist() == ["Gaia3"] * 5
    np.testing.assert_allclose((back["midpointMjdTai"] - expected["midpointMjdTai"]) * 86400.0,
                               0.0, atol=0.5e-3 + 2e-6)
    np.testing.assert_allclose(back["ra"], expected["ra"], rtol=0, atol=0.5e-9 + 1e-12)
    np.testing.assert_allclose(back["dec"], expected["dec"], rtol=0, atol=0.5e-8 + 1e-12)
    for column in ("raErr", "decErr"):
        np.testing.assert_allclose(back[column] * 3600, expected[column] * 3600, rtol=0,
                                   atol=0.5e-4 + 1e-12)
        assert (np.isnan(back[column]) == np.isnan(expected[column])).all()
    np.testing.assert_allclose(back["mag"], expected["mag"], rtol=0, atol=0.005)
    assert np.isnan(back["rmsCorr"]).all()


AGREE_LINES = (1, 3, 27)  # line numbers in mpc_8467_2021.obs (I41, I41, G96)
AGREE_PSV = """\
# version=2022
# observatory
! mpcCode I41
permID|mode|stn|obsTime                 |ra         |dec       |mag  |band
8467  |CCD |I41|2021-02-19T08:38:41.28Z |166.1825833|12.5331944|17.60|r
8467  |CCD |I41|2021-02-21T06:47:40.704Z|165.7955   |12.613    |18.21|g
# observatory
! mpcCode G96
permID|mode|stn|obsTime                 |ra         |dec       |mag  |band
8467  |CCD |G96|2021-03-19T06:46:10.0704|160.439375 |13.3714722|17.88|G
"""
AGREE_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<ades version="2017">
  <optical><permID>8467</permID><stn>I41</stn><obsTime>2021-02-19T08:38:41.28Z</obsTime>
    <ra>166.1825833</ra><dec>12.5331944</dec><mag>17.60</mag><band>r</band></optical>
  <optical><permID>8467</permID><stn>I41</stn><obsTime>2021-02-21T06:47:40.704Z</obsTime>
    <ra>165.7955</ra><dec>12.613</dec><mag>18.21</mag><band>g</band></optical>
  <optical><permID>8467</permID><stn>G96</stn><obsTime>2021-03-19T06:46:10.0704</obsTime>
    <ra>160.439375</ra><dec>13.3714722</dec><mag>17.88</mag><band>G</band></optical>
</ades>
"""


@pytest.mark.parametrize("text", [AGREE_PSV, AGREE_XML], ids=["psv", "xml"])
def test_agrees_with_read_mpc80(text):
    lines = (DATA / "mpc_8467_2021.obs").read_text().splitlines()
    mpc = read_mpc80("\n".join(lines[n - 1] for n in AGREE_LINES) + "\n")
    ades = read_ades(text)
    assert ades["designation"].tolist() == mpc["designation"].tolist() == ["8467"] * 3
    assert ades["observatoryCode"].tolist() == mpc["observatoryCode"].tolist()
    assert ades["band"].tolist() == mpc["band"].tolist()
    np.testing.assert_allclose(ades["midpointMjdTai"], mpc["midpointMjdTai"], rtol=0, atol=1e-8)
    # 80-column precision: RA to 0.01 s of time, Dec to 0.1".
    np.testing.assert_allclose(ades["ra"], mpc["ra"], rtol=0, atol=0.005 * 15 / 3600)
    np.testing.assert_allclose(ades["dec"], mpc["dec"], rtol=0, atol=0.05 / 3600)
    np.testing.assert_array_equal(ades["mag"], mpc["mag"])


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------

HEADER = "permID|provID|trkSub|obsTime|ra|dec|rmsRA|rmsDec|rmsCorr|mag|rmsMag|band|stn|mode|astCat"
ROW = {"permID": "8467", "provID": "", "trkSub": "", "obsTime": "2021-02-19T08:38:41.28Z",
       "ra": "166.1825833", "dec": "12.5331944", "rmsRA": "0.1", "rmsDec": "0.2",
       "rmsCorr": "0.3", "mag": "17.6", "rmsMag": "0.05", "band": "r", "stn": "F51",
       "mode": "CCD", "astCat": "Gaia2"}


def psv_with(**changes) -> str:
    """A one-observation PSV whose data row (line 5) has ``changes``."""
    row = {**ROW, **changes}
    return ("# version=2022\n# observatory\n! mpcCode F51\n" + HEADER + "\n"
            + "|".join(row[name] for name in HEADER.split("|")) + "\n")


def xml_with(**changes) -> str:
    """A two-observation XML document whose second ``<optical>`` (line 4) has ``changes``
    (``None`` leaves the field out)."""
    def optical(fields):
        return "<optical>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items()
                                     if v is not None) + "</optical>"
    second = {k: v for k, v in {**ROW, **changes}.items()}
    return ("<?xml version=\"1.0\"?>\n<ades version=\"2022\">\n" + optical(ROW) + "\n"
            + optical(second) + "\n</ades>\n")


BAD_FIELDS = [
    ("ra", "abc", "RA in degrees, 0 <= ra < 360"),
    ("ra", "360", "RA in degrees, 0 <= ra < 360"),
    ("ra", "-0.1", "RA in degrees"),
    ("ra", "1_0", "RA in degrees"),
    ("ra", "nan", "RA in degrees"),
    ("ra", "0x10", "RA in degrees"),
    ("dec", "90.0001", "Dec in degrees, -90 <= dec <= 90"),
    ("dec", "1e400", "Dec in degrees"),
    ("rmsRA", "0", "an uncertainty of RA·cos Dec in arcsec, > 0"),
    ("rmsDec", "-0.2", "an uncertainty of Dec in arcsec, > 0"),
    ("rmsCorr", "1.5", "a correlation coefficient, -1 <= rmsCorr <= 1"),
    ("mag", "inf", "a magnitude"),
    ("mag", "17,6", "a magnitude"),
    ("rmsMag", "0", "a magnitude uncertainty, > 0"),
    ("obsTime", "2021-02-19 08:38:41", "expected an ISO 8601 UTC time"),
    ("obsTime", "2021-02-19T08:38Z", "expected an ISO 8601 UTC time"),
    ("obsTime", "2021-02-30T08:38:41Z", "is not a calendar date"),
    ("obsTime", "2021-02-19T24:00:00Z", "needs hours 0-23"),
    ("obsTime", "2021-02-19T08:60:00Z", "minutes 0-59"),
    ("obsTime", "2021-02-19T23:59:60.5Z", "seconds below 60"),  # no leap second that day
    ("obsTime", "1500-01-01T00:00:00Z", "lies outside MJD"),
    ("stn", "F5", "is not an MPC observatory code"),
    ("stn", "F 1", "is not an MPC observatory code"),
    ("stn", "F511", "is not an MPC observatory code"),
    ("band", "r\u00e9", "is not printable ASCII text"),
    ("permID", "84\u00e967", "is not printable ASCII text"),
]


@pytest.mark.parametrize(("field", "value", "allowed"), BAD_FIELDS)
def test_bad_field_psv(field, value, allowed):
    message = f"<text>, line 5, field '{field}': {value!r}.*{re.escape(allowed)}"
    with pytest.raises(ValueError, match=message):
        read_ades(psv_with(**{field: value}))


@pytest.mark.parametrize(("field", "value", "allowed"), BAD_FIELDS)
def test_bad_field_xml(field, value, allowed):
    message = f"<text>, line 4, observation 2, field '{field}': {value!r}.*{re.escape(allowed)}"
    with pytest.raises(ValueError, match=message):
        read_ades(xml_with(**{field: value}))


@pytest.mark.parametrize("field", ["obsTime", "ra", "dec", "stn"])
def test_missing_required_field(field):
    with pytest.raises(ValueError, match=rf"<text>, line 5, field '{field}': missing or empty"):
        read_ades(psv_with(**{field: ""}))
    with pytest.raises(ValueError,
                       match=rf"<text>, line 4, observation 2, field '{field}': missing"):
        read_ades(xml_with(**{field: None}))
    header = "|".join(name for name in HEADER.split("|") if name != field)
    with pytest.raises(ValueError, match=rf"<text>, line 1: the column-header row lacks the "
                       rf"required field\(s\) \['{field}'\]"):
        read_ades(header + "\n")


def test_no_designation():
    message = "none of the fields permID, provID and trkSub is given"
    with pytest.raises(ValueError, match=f"<text>, line 5: {message}"):
        read_ades(psv_with(permID=""))
    with pytest.raises(ValueError, match=f"<text>, line 4, observation 2: {message}"):
        read_ades(xml_with(permID=None))
    with pytest.raises(ValueError, match=r"line 1: .*lacks .*\['permID\|provID\|trkSub'\]"):
        read_ades("obsTime|ra|dec|stn\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # PSV structure
        (psv_with() + "8467|||2021-02-19T08:38:41Z|1|2|F51\n",
         r"<text>, line 6: the data row has 7 field\(s\) .* column-header row has 15"),
        (psv_with() + psv_with().split("\n", 4)[4].replace("|F51|", "|F51|x|"),
         r"<text>, line 6: the data row has 16 field\(s\)"),
        ("# version=2030\n" + HEADER + "\n", r"<text>, line 1: '# version=2030' is not an ADES "
         "version read here"),
        ("# observatory\n! mpcCode F51\n8467|2021-02-19T08:38:41Z|1|2|F51\n",
         r"<text>, line 3: expected a column-header row .* '8467' is not a field name"),
        ("permID|ra|ra|dec|obsTime|stn\n", r"<text>, line 1: .* names \['ra'\] twice"),
        ("permID|obsTime|ra|dec|stn|\n", r"<text>, line 1: .* '' is not a field name"),
        # XML structure
        ("<ades version=\"2022\"><optical><ra>1</optical></ades>",
         r"<text>: malformed XML at line 1, column 38: mismatched tag"),
        ("\n\n<ades>\n<optical>\n", r"<text>: malformed XML at line 5, column 1: no element "
         "found"),
        ("<ades>&bad;</ades>", r"malformed XML at line 1, column 7: undefined entity"),
        ("<?xml version=\"1.0\"?>\n<!DOCTYPE ades [<!ENTITY big \"xxxxxxxx\">]>\n"
         "<ades><optical><trkSub>&big;</trkSub></optical></ades>",
         r"<text>, line 2: the XML declares a DTD \(<!DOCTYPE or <!ENTITY\)"),
        ("<?xml version=\"1.0\"?>\n<adesx version=\"2022\"/>",
         r"<text>, line 2: the root element is <adesx>; ADES XML has the root <ades"),
        ("<ades version=\"1.0\"/>", r"<text>, line 1: <ades version='1.0'> is not an ADES "
         "version"),
        ("<ades>\n<obsBlock><obsData>\n<radar/></obsData></obsBlock></ades>",
         r"<text>, line 3: <radar> records are not read; read_ades reads <optical>"),
        ("<ades>\n<obsBlock><obsContext/><extra/></obsBlock></ades>",
         r"<text>, line 2: unexpected <extra> in <obsBlock>"),
        ("<ades>\n<observation/></ades>", r"<text>, line 2: unexpected <observation> in <ades>"),
        ("<ades>\n<optical>\n<ra>1</ra>\n<ra>2</ra></optical></ades>",
         r"<text>, line 2, observation 1: the field 'ra' is given twice \(line 4\)"),
        ("<ades>\n<optical>\n<ra><deg>1</deg></ra></optical></ades>",
         r"<text>, line 2, observation 1, field 'ra' \(line 3\): expected text, found the "
         "element <deg>"),
    ],
)
def test_structure_errors(text, message):
    with pytest.raises(ValueError, match=message):
        read_ades(text)


def test_file_errors(tmp_path):
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(ValueError, match=r"image\.png: the input holds NUL bytes"):
        read_ades(binary)
    latin = tmp_path / "latin.psv"  # not UTF-8: the bytes are replaced, then refused
    latin.write_bytes(psv_with(stn="F\xe91").encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin\.psv, line 5, field 'stn': 'F\ufffd1'"):
        read_ades(latin)
    # Outside the fields (an observer's name in the obsContext), any UTF-8 is fine.
    names = tmp_path / "names.psv"
    names.write_text(psv_with().replace("! mpcCode F51", "! mpcCode F51\n# observers\n"
                                        "! name J. Müller"), encoding="utf-8")
    assert read_ades(names)["designation"].tolist() == ["8467"]
    bad = tmp_path / "bad.psv"
    bad.write_text(psv_with(ra="400"))
    with pytest.raises(ValueError, match=r"bad\.psv, line 5, field 'ra': '400'"):
        read_ades(bad)
    with pytest.raises(ValueError, match=r"'no-such-file\.psv' is not a file: read_ades takes"):
        read_ades("no-such-file.psv")
    with pytest.raises(ValueError, match="lone surrogates"):
        read_ades("<ades>\ud800</ades>")
    with pytest.raises(TypeError, match="read_ades takes a path"):
        read_ades(b"permID|obsTime\n")
