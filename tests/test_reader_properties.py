"""Property-based tests of every reader and parser: whatever the input — noise, or a valid
record with characters changed, cut or added — the result is a table or our InputError with a
message, never another exception (a defect the command line would report as internal)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ephemerides import read_orbits
from ephemerides.errors import InputError
from ephemerides.schemas import DIASOURCE
from linking import read_hypotheses
from linking.mpc_formats import read_ades, read_mpc80
from sso.linkjob import read_link_config

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

MPC80 = [
    "08467         C2021 03 19.29799310 41 44.914+13 22 18.64         17.79wU~4ggFF51",
    "     K21F00A  C2021 03 19.28206110 41 45.45 +13 22 17.3          17.88GV~4ggFG96",
]
ADES_PSV = [
    "# version=2022", "# observatory", "! mpcCode F51",
    "permID|provID    |trkSub |obsTime                 |ra         |dec       |rmsRA|rmsDec|"
    "rmsCorr|mag  |band|stn|mode",
    "8467  |          |       |2021-03-19T07:09:06.000Z|160.4371417|13.3718444|0.100|0.150 |"
    "0.1    |17.79|w   |F51|CCD",
    "      |2021 AB12 |S26W000|2021-03-19T06:46:10.07  |0.5        |-12.25    |     |      |"
    "       |     |    |G96|",
]
ADES_XML = [
    '<?xml version="1.0" encoding="UTF-8"?>', '<ades version="2022">', "<obsBlock>",
    "<obsContext><observatory><mpcCode>F51</mpcCode></observatory></obsContext>", "<obsData>",
    "<optical><permID>8467</permID><obsTime>2021-03-19T07:09:06.000Z</obsTime>"
    "<ra>160.4371417</ra><dec>13.3718444</dec><rmsRA>0.1</rmsRA><stn>F51</stn></optical>",
    "<optical><trkSub>S26W000</trkSub><obsTime>2021-03-19T06:46:10.07</obsTime><ra>0.5</ra>"
    "<dec>-12.25</dec><mag>17.8</mag><band>r</band><stn>G96</stn></optical>",
    "</obsData>", "</obsBlock>", "</ades>",
]
MPCORB = [
    "00433   11.16  0.46 K161D  95.36120  178.79795  304.32983   10.82861  0.2226787  "
    "0.55991538   1.4578778  0 MPO355095  6896  49 1893-2014 0.66 M-v 38h MPCLINUX   1804    "
    "(433) Eros               20141222",
    "00719   15.5   0.15 K161D 132.63149  156.01908  183.97346   11.56459  0.5508742  "
    "0.23065620   2.6332533  0 MPO365250  1080  15 1911-2016 0.42 M-v 38h MPCLINUX   1804    "
    "(719) Albert             20160206",
]
SORCHA = ["ObjID FORMAT a e inc node argPeri ma epochMJD_TDB H G",
          "SynMBA01 KEP 2.71 0.08 10.4 80.3 15.9 230.4 61000.0 15.2 0.15",
          "SynNEO01 KEP 1.47 0.56 7.9 35.4 270.1 120.8 61000.0 17.6 0.15"]
CONFIG = ["hypotheses = \"mb\"", "cluster_radius_au_at_1au = 0.0007", "[tracklets]",
          "max_dt_h = 1.5", "[fit]", "max_rms_arcsec = 0.8"]
HYPOTHESES = ["#r(AU) rdot(AU/day) mean_accel", "1.5 -0.01 0.5", "2.0 0.002 0.03"]

CHARACTERS = st.characters(codec="utf-8", exclude_categories=["Cs"])


@st.composite
def edited(draw, lines: list[str]):
    """The lines of a valid record with a few characters replaced, deleted or inserted, a
    line cut or dropped, or blank lines — or, sometimes, noise."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(CHARACTERS, max_size=300))
    lines = list(lines)
    for _ in range(draw(st.integers(1, 4))):
        row = draw(st.integers(0, len(lines) - 1))
        line = lines[row]
        at = draw(st.integers(0, len(line)))
        action = draw(st.sampled_from(["replace", "delete", "insert", "cut", "drop", "blank"]))
        char = draw(st.sampled_from("0123456789 .-+eE,;=\"'[]#abcKZ\t\x00é"))
        if action == "replace":
            line = line[:at] + char + line[at + 1:]
        elif action == "delete":
            line = line[:at] + line[at + 1:]
        elif action == "insert":
            line = line[:at] + char + line[at:]
        elif action == "cut":
            line = line[:at]
        elif action == "blank":
            lines.insert(row, "")
            continue
        elif len(lines) > 1:
            del lines[row]
            continue
        lines[row] = line
    return "\n".join(lines) + "\n"


def _ours_or_result(call):
    """Run ``call``: a result, or our InputError; anything else fails the test."""
    try:
        return call()
    except InputError as error:
        assert str(error).strip()  # a message, never an empty one
        return None


def _read_file(path, text, reader):
    """``reader(path)`` of ``text`` written to ``path``: a table, or our InputError."""
    path.write_text(text, encoding="utf-8")
    table = _ours_or_result(lambda: reader(path))
    assert table is None or isinstance(table, pd.DataFrame)
    return table


@SETTINGS
@given(text=edited(MPC80))
def test_mpc80_reader(text):
    table = _ours_or_result(lambda: read_mpc80(text))
    assert table is None or isinstance(table, pd.DataFrame)


@SETTINGS
@given(text=edited(ADES_PSV))
def test_ades_psv_reader(text):
    table = _ours_or_result(lambda: read_ades(text))
    assert table is None or isinstance(table, pd.DataFrame)


@SETTINGS
@given(text=edited(ADES_XML))
def test_ades_xml_reader(folder, text):
    table = _read_file(folder / "obs.xml", text, read_ades)
    if table is not None:
        assert table["ra"].between(0.0, 360.0, inclusive="left").all()


@SETTINGS
@given(text=edited(MPCORB))
def test_mpcorb_reader(folder, text):
    _read_file(folder / "MPCORB.DAT", text, lambda path: read_orbits(path, format="mpcorb"))


@SETTINGS
@given(text=edited(SORCHA), separator=st.sampled_from([" ", ","]))
def test_sorcha_reader(folder, text, separator):
    name = "orbits.csv" if separator == "," else "orbits.des"
    _read_file(folder / name, text.replace(" ", separator),
               lambda path: read_orbits(path, format="sorcha"))


@SETTINGS
@given(text=edited(CONFIG))
def test_link_config_reader(folder, text):
    path = folder / "link.toml"
    path.write_text(text, encoding="utf-8")
    _ours_or_result(lambda: read_link_config(path))


@SETTINGS
@given(text=edited(HYPOTHESES))
def test_hypothesis_file_reader(folder, text):
    table = _read_file(folder / "hypotheses.txt", text, read_hypotheses)
    if table is not None:
        assert np.isfinite(table.to_numpy(np.float64)).all()


VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-2**70, 2**70),
    st.text(CHARACTERS, max_size=8), st.none(), st.booleans(),
    st.sampled_from(["1.5", "nan", "-30", "400", "1e400", " 12 ", "0x10"]))


@SETTINGS
@given(columns=st.dictionaries(
    st.sampled_from(["diaSourceId", "visit", "midpointMjdTai", "ra", "dec", "raErr",
                     "trailLength", "band", "psfFlux"]),
    st.lists(VALUES, min_size=3, max_size=3), min_size=1))
def test_diasource_tables(columns):
    frame = pd.DataFrame(columns, dtype=object)
    table = _ours_or_result(lambda: DIASOURCE.check(frame))
    if table is not None:
        assert table["ra"].between(0.0, 360.0, inclusive="left").all()
        assert table["dec"].between(-90.0, 90.0).all()
        assert table["diaSourceId"].dtype == np.int64 and table["diaSourceId"].is_unique


def test_the_records_edited_are_valid(folder):
    """The records the properties start from read: the edits, not the seeds, fail."""
    assert len(read_mpc80("\n".join(MPC80) + "\n")) == 2
    assert len(read_ades("\n".join(ADES_PSV) + "\n")) == 2
    assert len(read_ades("\n".join(ADES_XML) + "\n")) == 2
    for name, lines, kind in (("MPCORB.DAT", MPCORB, "mpcorb"), ("orbits.des", SORCHA, "sorcha")):
        (folder / name).write_text("\n".join(lines) + "\n")
        assert len(read_orbits(folder / name, format=kind)) == 2
    (folder / "link.toml").write_text("\n".join(CONFIG) + "\n")
    assert read_link_config(folder / "link.toml").hypotheses == "mb"
    (folder / "hypotheses.txt").write_text("\n".join(HYPOTHESES) + "\n")
    assert len(read_hypotheses(folder / "hypotheses.txt")) == 2


@pytest.fixture
def folder(tmp_path_factory):
    """One folder for all the examples of a test (hypothesis runs the body many times)."""
    return tmp_path_factory.mktemp("reader")
