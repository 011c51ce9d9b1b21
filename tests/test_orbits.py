"""Orbit catalogue readers: MPCORB, Sorcha, CSV and Parquet, and the orbit-table validation."""

import gzip
import logging

import numpy as np
import pandas as pd
import pytest
from astropy.time import Time

from ephemerides.orbits import (
    DEFAULT_G,
    ELEMENT_COLUMNS,
    ORBIT_FORMATS,
    OrbitFormatError,
    orbit_columns,
    read_orbits,
    validate_orbits,
)
from ephemerides.schemas import ORBITS

MPCORB_NAME = "orbits/nea_mpcorb_epoch_2016.txt"


@pytest.fixture(scope="module")
def mpcorb_path(shared_data):
    return shared_data / MPCORB_NAME


@pytest.fixture(scope="module")
def mpcorb_lines(mpcorb_path):
    return mpcorb_path.read_text().splitlines()


@pytest.fixture(scope="module")
def mpcorb(mpcorb_path):
    return read_orbits(mpcorb_path)


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def _tt_to_tdb(mjd_tt):
    return Time(mjd_tt, format="mjd", scale="tt").tdb.mjd


# ---------------------------------------------------------------------------------------------
# MPCORB


def test_mpcorb_reads_every_record(mpcorb, mpcorb_lines):
    # The file holds 14,098 records (`wc -l` says 14,097: the last line has no newline).
    assert len(mpcorb) == sum(1 for line in mpcorb_lines if line.strip()) == 14_098
    assert list(mpcorb.columns) == orbit_columns("KEP")
    assert (mpcorb["format"] == "KEP").all()
    assert mpcorb.attrs["skipped"] == []
    assert mpcorb["ssObjectId"].dtype == np.int64
    assert mpcorb["ssObjectId"].is_unique


def test_mpcorb_eros_row_equals_its_text(mpcorb, mpcorb_lines):
    line = next(line for line in mpcorb_lines if line.startswith("00433 "))
    fields = line.split()
    eros = mpcorb.iloc[0]
    assert eros["object_id"] == "433"
    assert eros["ssObjectId"] == 0x30_30_34_33_33  # bytes of '00433'
    assert eros["H"] == float(fields[1]) == 11.16
    assert eros["G"] == float(fields[2]) == 0.46
    assert fields[3] == "K161D"
    assert eros["mean_anomaly_deg"] == float(fields[4])
    assert eros["argperi_deg"] == float(fields[5])
    assert eros["node_deg"] == float(fields[6])
    assert eros["inc_deg"] == float(fields[7])
    assert eros["e"] == float(fields[8])
    assert eros["a_au"] == float(fields[10])


def test_mpcorb_epoch_is_converted_from_tt_to_tdb(mpcorb):
    # K161D = 2016 Jan. 13.0 TT = MJD 57400.0 TT; TDB - TT is then +0.28 ms (|TDB - TT| < 2 ms).
    epoch = mpcorb["epoch_mjd_tdb"].iloc[0]
    assert epoch == pytest.approx(_tt_to_tdb(57400.0), abs=1e-10)
    assert 1e-4 < (epoch - 57400.0) * 86400.0 < 2e-3


def test_mpcorb_every_epoch_matches_astropy(mpcorb, mpcorb_lines):
    packed = np.array([line[20:25] for line in mpcorb_lines if line.strip()])
    assert set(packed) > {"K161D", "K08A6"}
    k08a6 = mpcorb["epoch_mjd_tdb"][packed == "K08A6"].iloc[0]
    assert k08a6 == pytest.approx(_tt_to_tdb(Time("2008-10-06", scale="tt").mjd), abs=1e-10)


def test_mpcorb_unpacks_designations(mpcorb):
    ids = set(mpcorb["object_id"])
    assert {"433", "2003 SY17", "463380", "6344 P-L", "2000 AE205"} <= ids


def test_mpcorb_gzip_gives_the_same_table(mpcorb, mpcorb_path, tmp_path):
    zipped = tmp_path / "nea.txt.gz"
    zipped.write_bytes(gzip.compress(mpcorb_path.read_bytes(), compresslevel=1))
    pd.testing.assert_frame_equal(read_orbits(zipped), mpcorb)


def test_mpcorb_header_up_to_dashes_and_blank_lines_are_skipped(mpcorb, mpcorb_lines, tmp_path):
    header = [
        "MINOR PLANET CENTER ORBIT DATABASE (MPCORB)",
        "",
        "Des'n     H     G   Epoch",
        "-" * 160,
    ]
    path = _write(tmp_path / "MPCORB.DAT", [*header, *mpcorb_lines[:10], "", *mpcorb_lines[10:20]])
    table = read_orbits(path)
    pd.testing.assert_frame_equal(table, mpcorb.iloc[:20])


def test_mpcorb_blank_h_and_g(mpcorb_lines, tmp_path):
    line = mpcorb_lines[0]
    blanked = line[:8] + " " * 11 + line[19:]
    table = read_orbits(_write(tmp_path / "mpcorb.txt", [blanked]), format="mpcorb")
    assert np.isnan(table["H"].iloc[0])
    assert table["G"].iloc[0] == DEFAULT_G == 0.15


def _malformed(mpcorb_lines):
    lines = list(mpcorb_lines[:6])
    lines[2] = lines[2][:70] + "0.22x6787" + lines[2][79:]  # line 3: non-numeric e
    lines[3] = lines[3][:80]  # line 4: too short
    lines[4] = lines[4][:20] + "K16XD" + lines[4][25:]  # line 5: month 'X'
    return lines


def test_mpcorb_malformed_lines_raise_with_line_numbers(mpcorb_lines, tmp_path):
    path = _write(tmp_path / "bad.txt", _malformed(mpcorb_lines))
    with pytest.raises(OrbitFormatError) as info:
        read_orbits(path)
    message = str(info.value)
    assert str(path) in message
    assert "line 3, column e (columns 71-79): '0.22x6787' is not a number" in message
    assert "line 4, column record: line has 80 characters" in message
    assert "line 5, column epoch (columns 21-25)" in message and "'K16XD'" in message
    assert [issue["line"] for issue in info.value.issues] == [3, 4, 5]


def test_mpcorb_shifted_fields_are_caught(mpcorb_lines, tmp_path):
    path = _write(tmp_path / "shifted.txt", [mpcorb_lines[0], " " + mpcorb_lines[1]])
    with pytest.raises(OrbitFormatError, match=r"line 2, column record: .*misaligned"):
        read_orbits(path)


def test_mpcorb_skip_reports_every_dropped_line(mpcorb, mpcorb_lines, tmp_path, caplog):
    path = _write(tmp_path / "bad.txt", _malformed(mpcorb_lines))
    with caplog.at_level(logging.WARNING, logger="ephemerides.orbits"):
        table = read_orbits(path, errors="skip")
    pd.testing.assert_frame_equal(
        table, mpcorb.iloc[[0, 1, 5]].reset_index(drop=True), check_like=False
    )
    skipped = table.attrs["skipped"]
    assert [s["line"] for s in skipped] == [3, 4, 5]
    assert {"line", "row", "column", "reason"} <= set(skipped[0])
    assert "'0.22x6787'" in skipped[0]["reason"]
    warnings = [r for r in caplog.records if r.name == "ephemerides.orbits"]
    assert len(warnings) == 1 and "skipped 3 orbit row(s)" in warnings[0].getMessage()


def test_mpcorb_invalid_values_name_line_column_and_range(mpcorb_lines, tmp_path):
    lines = list(mpcorb_lines[:3])
    lines[1] = lines[1][:59] + "190.00000" + lines[1][68:]  # inclination 190 deg
    path = _write(tmp_path / "inc.txt", lines)
    with pytest.raises(OrbitFormatError) as info:
        read_orbits(path)
    assert (
        f"{path}, line 2, column inc_deg (columns 60-68): value 190.0 is outside the "
        "allowed range: numbers in [0, 180] deg"
    ) in str(info.value)
    table = read_orbits(path, errors="skip")
    assert len(table) == 2
    assert table.attrs["skipped"][0]["line"] == 2


# ---------------------------------------------------------------------------------------------
# Sorcha


def test_sorcha_kep_des_file(shared_data):
    path = shared_data / "orbits/sorcha_testset_kep.des"
    table = read_orbits(path)
    assert len(table) == 10
    assert list(table.columns) == orbit_columns("KEP")
    first = table.iloc[0]
    assert first["object_id"] == "2010_TU149"
    assert first["ssObjectId"] == int.from_bytes(b"K10TE9U", "big")
    expected = [2.2103867, 0.8245336, 1.9679, 58.91911, 92.60419, 324.21145]
    assert [first[c] for c in ELEMENT_COLUMNS["KEP"]] == expected
    assert first["epoch_mjd_tdb"] == 60200.0
    assert np.isnan(first["H"]) and first["G"] == DEFAULT_G


def test_sorcha_cart_csv_file(shared_data):
    path = shared_data / "orbits/s3m_mba_1000_cart.csv"
    table = read_orbits(path)
    assert len(table) == 1000
    assert (table["format"] == "CART").all()
    line = path.read_text().splitlines()[1].split(",")
    assert table["object_id"].iloc[0] == line[0] == "S100cuQfa"
    got = table.iloc[0][[*ELEMENT_COLUMNS["CART"], "epoch_mjd_tdb"]].tolist()
    assert got == [float(v) for v in line[2:]]
    assert (table["ssObjectId"] < 0).all()  # 9-character ids are hashed


SORCHA_SAMPLES = {
    "KEP": (
        "a e inc node argPeri ma",
        [[2.5, 0.1, 5.0, 10.0, 20.0, 30.0], [-3.0, 1.5, 175.0, 0.0, 359.0, 1.0]],
    ),
    "COM": (
        "q e inc node argPeri t_p_MJD_TDB",
        [[0.9, 0.99, 89.5, 282.1, 130.6, 50538.16], [2.0, 1.0, 10.0, 1.0, 2.0, 60100.5]],
    ),
    "CART": (
        "x y z xdot ydot zdot",
        [[2.1, 2.2, -0.5, -0.0069, 0.0066, -0.0006], [-3.3, -0.6, -0.6, -0.0009, -0.0085, 0.0022]],
    ),
}
SEPARATORS = {"comma": ",", "tab": "\t", "space": " "}


@pytest.mark.parametrize("separator", SEPARATORS)
@pytest.mark.parametrize("orbit_format", ORBIT_FORMATS)
def test_sorcha_formats_and_separators(orbit_format, separator, tmp_path):
    names, values = SORCHA_SAMPLES[orbit_format.removeprefix("B")]
    sep = SEPARATORS[separator]
    header = ["ObjID", "FORMAT", *names.split(), "epochMJD_TDB", "H"]
    rows = [
        [f"obj{k}", orbit_format, *map(repr, v), "60000.5", "17.25"] for k, v in enumerate(values)
    ]
    path = _write(tmp_path / "orbits.txt", [sep.join(header)] + [sep.join(r) for r in rows])
    table = read_orbits(path)
    assert list(table.columns) == orbit_columns(orbit_format)
    assert table["format"].tolist() == [orbit_format] * 2
    assert table["object_id"].tolist() == ["obj0", "obj1"]
    assert table[list(ELEMENT_COLUMNS[orbit_format])].to_numpy().tolist() == values
    assert table["epoch_mjd_tdb"].tolist() == [60000.5] * 2
    assert table["H"].tolist() == [17.25] * 2 and table["G"].tolist() == [0.15] * 2
    # What the reader returns is the declared schema's table, dtypes included.
    checked = ORBITS[orbit_format].check(table)
    assert checked.dtypes.to_dict() == table.dtypes.to_dict()
    with pytest.raises(ValueError, match=r"column 'format' is not allowed in row 0: 'XYZ'.*"
                       rf"among \['{orbit_format}'\]"):
        ORBITS[orbit_format].check(table.assign(format="XYZ"))


def test_sorcha_com_columns_and_order_independence(tmp_path):
    path = _write(
        tmp_path / "com.csv",
        [
            "ObjID,t_p_MJD_TDB,epochMJD_TDB,q,FORMAT,e,inc,node,argPeri,G",
            "C1,50538.16,54800.0,0.914,BCOM,0.995,89.4,282.5,130.6,0.2",
        ],
    )
    row = read_orbits(path).iloc[0]
    assert row["format"] == "BCOM"
    assert (row["q_au"], row["e"], row["tp_mjd_tdb"], row["epoch_mjd_tdb"]) == (
        0.914,
        0.995,
        50538.16,
        54800.0,
    )
    assert (row["inc_deg"], row["node_deg"], row["argperi_deg"], row["G"]) == (
        89.4,
        282.5,
        130.6,
        0.2,
    )


def test_sorcha_mixed_formats_raise(tmp_path):
    path = _write(
        tmp_path / "mixed.csv",
        [
            "ObjID,FORMAT,a,e,inc,node,argPeri,ma,epochMJD_TDB",
            "a1,KEP,2.5,0.1,5,10,20,30,60000",
            "a2,COM,2.5,0.1,5,10,20,30,60000",
        ],
    )
    with pytest.raises(
        OrbitFormatError,
        match=r"mixes orbit formats KEP \(first at line 2\), "
        r"COM \(first at line 3\)",
    ):
        read_orbits(path, errors="skip")


def test_sorcha_missing_columns_are_named(tmp_path):
    path = _write(
        tmp_path / "short.csv",
        ["ObjID,FORMAT,a,e,inc,node,argPeri,epochMJD_TDB", "a1,KEP,2.5,0.1,5,10,20,60000"],
    )
    with pytest.raises(OrbitFormatError, match=r"KEP orbits need columns .*missing \['ma'\]"):
        read_orbits(path)


def test_sorcha_malformed_lines(tmp_path):
    path = _write(
        tmp_path / "bad.des",
        [
            "ObjID FORMAT a e inc node argPeri ma epochMJD_TDB",
            "a1 KEP 2.5 0.1 5 10 20 30 60000",
            "",
            "a2 KEP 2.5 0.1 5 10 20 60000",
            "a3 KEP 2.5 zero 5 10 20 30 60000",
            "a4 KPE 2.5 0.1 5 10 20 30 60000",
            "a5 KEP 2.5 0.1 200 10 20 30 60000",
        ],
    )
    with pytest.raises(OrbitFormatError) as info:
        read_orbits(path)
    message = str(info.value)
    assert "line 4, column record: line has 8 fields but the header has 9" in message
    assert "line 5, column e: 'zero' is not a number" in message
    assert "line 6, column FORMAT: format 'KPE' is not one of" in message
    table = read_orbits(path, errors="skip")
    assert table["object_id"].tolist() == ["a1"]
    assert [s["line"] for s in table.attrs["skipped"]] == [4, 5, 6, 7]
    assert "file column inc" in table.attrs["skipped"][3]["column"]
    assert "numbers in [0, 180] deg" in table.attrs["skipped"][3]["reason"]


@pytest.mark.parametrize(
    ("row", "column", "rule"),
    [
        ("KEP,-2.5,0.1,5,10,20,30,60000", "a_au", "a_au > 0 when e < 1"),
        ("KEP,2.5,1.5,5,10,20,30,60000", "a_au", "a_au < 0 when e > 1"),
        ("KEP,2.5,1.0,5,10,20,30,60000", "e", "give it as COM"),
        ("KEP,2.5,-0.1,5,10,20,30,60000", "e", "numbers >= 0"),
        ("KEP,2.5,0.1,-1,10,20,30,60000", "inc_deg", "numbers in [0, 180] deg"),
        ("KEP,2.5,0.1,5,10,20,30,inf", "epoch_mjd_tdb", "NaN and infinity are not allowed"),
        ("COM,-0.5,0.1,5,10,20,30,60000", "q_au", "numbers > 0 AU"),
    ],
)
def test_validation_errors_name_file_line_column_and_range(row, column, rule, tmp_path):
    kind = row.split(",")[0]
    names = "a" if kind == "KEP" else "q"
    last = "ma" if kind == "KEP" else "t_p_MJD_TDB"
    header = f"ObjID,FORMAT,{names},e,inc,node,argPeri,{last},epochMJD_TDB"
    path = _write(tmp_path / "v.csv", [header, "x1," + row])
    with pytest.raises(OrbitFormatError) as info:
        read_orbits(path)
    message = str(info.value)
    assert f"{path}, line 2, column {column}" in message
    assert rule in message


# ---------------------------------------------------------------------------------------------
# Own CSV and Parquet


@pytest.fixture
def sample(mpcorb):
    return mpcorb.iloc[:50].copy()


def test_own_csv_round_trip(sample, tmp_path):
    path = tmp_path / "orbits.csv"
    sample.to_csv(path, index=False)
    pd.testing.assert_frame_equal(read_orbits(path), sample)


def test_own_parquet_round_trip(sample, tmp_path):
    path = tmp_path / "orbits.parquet"
    sample.to_parquet(path, index=False)
    pd.testing.assert_frame_equal(read_orbits(path), sample)
    no_suffix = tmp_path / "orbits.bin"
    no_suffix.write_bytes(path.read_bytes())
    pd.testing.assert_frame_equal(read_orbits(no_suffix), sample)  # detected by magic bytes


def test_own_csv_computes_optional_columns(sample, tmp_path):
    path = tmp_path / "minimal.csv"
    sample.drop(columns=["ssObjectId", "H", "G"]).to_csv(path, index=False)
    table = read_orbits(path, format="csv")
    assert table["ssObjectId"].tolist() == sample["ssObjectId"].tolist()
    assert table["H"].isna().all() and (table["G"] == DEFAULT_G).all()


def test_own_csv_rejects_sorcha_names_when_told_csv(shared_data):
    with pytest.raises(OrbitFormatError, match="format='sorcha'"):
        read_orbits(shared_data / "orbits/s3m_mba_1000_cart.csv", format="csv")


def test_validate_orbits_names_rows_columns_values_and_ranges(sample):
    validate_orbits(sample)
    broken = sample.copy()
    broken.loc[2, "e"] = -0.1
    broken.loc[7, "inc_deg"] = 181.5
    broken.loc[9, "a_au"] = np.nan
    with pytest.raises(OrbitFormatError) as info:
        validate_orbits(broken, source="catalogue.parquet")
    message = str(info.value)
    assert "3 invalid orbit value(s)" in message
    assert (
        "catalogue.parquet, row 2, column e: value -0.1 is outside the allowed range: "
        "numbers >= 0"
    ) in message
    assert "row 7, column inc_deg: value 181.5 is outside the allowed range" in message
    assert "row 9, column a_au: value is missing (NaN)" in message
    assert [i["row"] for i in info.value.issues] == [2, 7, 9]


def test_validate_orbits_checks_the_schema(sample):
    with pytest.raises(OrbitFormatError, match=r"lacks column\(s\) \['G'\]"):
        validate_orbits(sample.drop(columns="G"))
    mixed = sample.copy()
    mixed.loc[0, "format"] = "BKEP"
    with pytest.raises(OrbitFormatError, match="mixes formats"):
        validate_orbits(mixed)
    with pytest.raises(TypeError, match="DataFrame"):
        validate_orbits(sample.to_dict())


# ---------------------------------------------------------------------------------------------
# Arguments and detection


def test_bad_arguments_are_explained(tmp_path, shared_data):
    path = shared_data / "orbits/sorcha_testset_kep.des"
    with pytest.raises(ValueError, match="errors='ignore'"):
        read_orbits(path, errors="ignore")
    with pytest.raises(ValueError, match=r"format='json'.*'mpcorb', 'sorcha', 'csv', 'parquet'"):
        read_orbits(path, format="json")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_orbits(tmp_path / "nothing.txt")


def test_undetectable_files_ask_for_a_format(tmp_path):
    with pytest.raises(OrbitFormatError, match=r"cannot tell the orbit format.*pass format="):
        read_orbits(_write(tmp_path / "notes.txt", ["hello world"]))
    with pytest.raises(OrbitFormatError, match="empty"):
        read_orbits(_write(tmp_path / "empty.txt", [""]))


def test_header_only_sorcha_file_gives_an_empty_table(tmp_path):
    table = read_orbits(
        _write(tmp_path / "h.csv", ["ObjID,FORMAT,q,e,inc,node,argPeri,t_p_MJD_TDB,epochMJD_TDB"])
    )
    assert len(table) == 0 and list(table.columns) == orbit_columns("COM")


def test_parquet_validation_errors_name_the_row(sample, tmp_path):
    broken = sample.copy()
    broken.loc[3, "e"] = -1.0
    path = tmp_path / "broken.parquet"
    broken.to_parquet(path, index=False)
    with pytest.raises(OrbitFormatError, match=r"broken\.parquet, row 3, column e: value -1\.0"):
        read_orbits(path)
    table = read_orbits(path, errors="skip")
    assert len(table) == len(sample) - 1
    assert table.attrs["skipped"] == [
        {"line": None, "row": 3, "column": "e", "reason": table.attrs["skipped"][0]["reason"]}
    ]


def test_own_csv_keeps_given_ss_object_ids(sample, tmp_path):
    custom = sample.assign(ssObjectId=np.arange(len(sample), dtype=np.int64) + 2**60)
    path = tmp_path / "custom.csv"
    custom.to_csv(path, index=False)
    assert read_orbits(path)["ssObjectId"].tolist() == custom["ssObjectId"].tolist()


def test_the_packaged_sample_orbits_read():
    """sso/data/sample_orbits.des, shipped in the wheel (the first notebook reads it): twelve
    synthetic orbits, Atira to TNO, as Sorcha KEP rows."""
    from importlib.resources import files

    sample = read_orbits(str(files("sso").joinpath("data/sample_orbits.des")))
    assert len(sample) == 12 and sample["object_id"].is_unique
    assert set(sample["format"]) == {"KEP"}
    assert sample["a_au"].min() < 1.0 < 30.0 < sample["a_au"].max()
