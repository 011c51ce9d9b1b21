"""MPC designations, packed dates and Rubin ssObjectId, against published examples.

Expected values come from the MPC's "Packed Provisional and Permanent Designations" and "Packed
Dates" pages (docs.minorplanetcenter.net/mpc-ops-docs/designations/) and, for the base-62 forms
the MPC pages describe only in words, from the test cases published with Bill Gray's
independent implementation (projectpluto.com/packed.htm). ssObjectId values are written out as
hexadecimal byte strings by hand.
"""

import numpy as np
import pytest
from astropy.time import Time

from ephemerides.designations import (
    MAX_NUMBER,
    pack_designation,
    packed_form,
    ss_object_id,
    ss_object_ids,
    ss_object_ids_from_packed,
    unpack_designation,
    unpack_packed_epoch,
)

# MPC "Packed Provisional Designations", minor planets.
MPC_PROVISIONAL = [
    ("1995 XA", "J95X00A"),
    ("1995 XL1", "J95X01L"),
    ("1995 FB13", "J95F13B"),
    ("1998 SQ108", "J98SA8Q"),
    ("1998 SV127", "J98SC7V"),
    ("1998 SS162", "J98SG2S"),
    ("2099 AZ193", "K99AJ3Z"),
    ("2008 AA360", "K08Aa0A"),
    ("2007 TA418", "K07Tf8A"),
]
# MPC survey designations.
MPC_SURVEY = [
    ("2040 P-L", "PLS2040"),
    ("3138 T-1", "T1S3138"),
    ("1010 T-2", "T2S1010"),
    ("4101 T-3", "T3S4101"),
]
# MPC comet examples give the 7-character provisional part; the orbit-type letter precedes it.
MPC_COMET_PROVISIONAL = [
    ("1995 A1", "J95A010"),
    ("1994 P1-B", "J94P01b"),
    ("1994 P1", "J94P010"),
    ("2048 X13", "K48X130"),
    ("2033 L89-C", "K33L89c"),
    ("2088 A103", "K88AA30"),
]
# Permanent numbers: the MPC's rules (zero-padded below 100000, A-Z/a-z for the ten-thousands
# up to 619999, '~' + base 62 from 620000) and projectpluto's published cases.
NUMBERED = [
    ("1", "00001"),
    ("433", "00433"),
    ("99999", "99999"),
    ("100000", "A0000"),
    ("164060", "G4060"),
    ("360017", "a0017"),
    ("491415", "n1415"),
    ("619999", "z9999"),
    ("620000", "~0000"),
    ("620036", "~000a"),
    ("3140113", "~AZaz"),
    ("15396335", "~zzzz"),
]
# Extended provisional designations (cycle count >= 620), projectpluto's published cases.
EXTENDED = [
    ("2026 CA620", "_QC0000"),
    ("2026 CZ6190", "_QC0aEM"),
    ("2026 CL591673", "_QCzzzz"),
    ("2010 HJ92809", "_AH9fZ7"),
]
OTHER_COMETS = [
    ("C/1995 O1", "CJ95O010"),
    ("1P", "0001P"),
    ("73P", "0073P"),
    ("2I", "0002I"),
    ("P/2019 GG21", "PK19G21G"),
]
ALL_PAIRS = MPC_PROVISIONAL + MPC_SURVEY + NUMBERED + EXTENDED + OTHER_COMETS


@pytest.mark.parametrize(("unpacked", "packed"), ALL_PAIRS)
def test_pack_and_unpack_published_pairs(unpacked, packed):
    assert pack_designation(unpacked) == packed
    assert unpack_designation(packed) == unpacked


@pytest.mark.parametrize(("unpacked", "packed"), MPC_COMET_PROVISIONAL)
@pytest.mark.parametrize("kind", ["C", "P"])
def test_comet_provisional_designations(kind, unpacked, packed):
    assert pack_designation(f"{kind}/{unpacked}") == kind + packed
    assert unpack_designation(kind + packed) == f"{kind}/{unpacked}"


@pytest.mark.parametrize(
    ("variant", "packed"),
    [
        ("(433)", "00433"),
        ("  433 ", "00433"),
        ("2010_TU149", "K10TE9U"),  # Sorcha's underscore; cycle 149 -> 'E9' (E = 14)
        ("2010 TU149", "K10TE9U"),
        ("1P/Halley", "0001P"),
        ("2040_P-L", "PLS2040"),
    ],
)
def test_accepted_unpacked_variants(variant, packed):
    assert pack_designation(variant) == packed


def test_unpack_ignores_the_blank_padding_of_mpcorb_columns():
    assert unpack_designation("00433  ") == "433"


@pytest.mark.parametrize(
    "bad",
    ["", "K16", "2016 IA", "2016 AI", "1995 XA01", "(433", "0", "433x", "C/1995 Z1", "1799 AA"],
)
def test_pack_rejects_what_it_cannot_pack(bad):
    with pytest.raises(ValueError, match=r"allowed forms|cannot be packed") as info:
        pack_designation(bad)
    assert repr(bad) in str(info.value)


def test_pack_explains_numbers_past_the_packed_range():
    with pytest.raises(ValueError, match=str(MAX_NUMBER)):
        pack_designation(str(MAX_NUMBER + 1))


def test_pack_points_out_an_already_packed_designation():
    with pytest.raises(ValueError, match=r"already packed.*'2016 AB'"):
        pack_designation("K16A00B")


@pytest.mark.parametrize("bad", ["", "00000", "K16I00A", "J95X00", "2016 AB", "~00", "K16A00b"])
def test_unpack_rejects_what_is_not_packed(bad):
    with pytest.raises(ValueError, match=r"allowed forms|start at 1") as info:
        unpack_designation(bad)
    assert repr(bad) in str(info.value)


def test_packed_form_recognises_both_directions_and_rejects_others():
    assert packed_form("2016 AB") == "K16A00B"
    assert packed_form("K16A00B") == "K16A00B"
    assert packed_form("433") == "00433"
    assert packed_form("00433") == "00433"
    assert packed_form("S100cuQfa") is None


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("433", 0x30_30_34_33_33),  # b'00433'
        ("00433", 0x30_30_34_33_33),
        ("(433)", 0x30_30_34_33_33),
        ("2016 AB", 0x4B_31_36_41_30_30_42),  # b'K16A00B'
        ("K16A00B", 0x4B_31_36_41_30_30_42),
        ("2010_TU149", 0x4B_31_30_54_45_39_55),  # b'K10TE9U'
        ("C/1995 O1", 0x43_4A_39_35_4F_30_31_30),  # b'CJ95O010'
        ("100345", 0x41_30_33_34_35),  # b'A0345'
        ("t1", 0x74_31),  # not a designation, <= 8 ASCII characters: its own bytes
        ("S100cuQf", 0x53_31_30_30_63_75_51_66),
    ],
)
def test_ss_object_id_is_the_big_endian_bytes_of_the_packed_form(identifier, expected):
    assert ss_object_id(identifier) == expected


def test_ss_object_id_hashes_long_identifiers_to_negative_int64():
    value = ss_object_id("S100cuQfa")  # 9 characters
    assert -(2**63) <= value < 0
    assert ss_object_id("S100cuQfa") == value  # deterministic
    assert ss_object_id("S100cuQfb") != value
    assert ss_object_id("Ünïcode") < 0  # not ASCII


def test_ss_object_id_rejects_empty_and_non_strings():
    with pytest.raises(ValueError, match="empty"):
        ss_object_id("  ")
    with pytest.raises(TypeError, match="strings"):
        ss_object_id(None)


def test_ss_object_ids_vectorised_matches_scalar():
    identifiers = ["433", "2016 AB", "t1", "S100cuQfa", "433", "C/1995 O1"]
    ids = ss_object_ids(identifiers)
    assert ids.dtype == np.int64
    assert ids.tolist() == [ss_object_id(i) for i in identifiers]
    assert ss_object_ids([]).shape == (0,)


def test_ss_object_ids_from_packed_reads_bytes_without_parsing():
    packed = ["00433", "K16A00B", "CJ95O010", "~AZaz"]
    assert ss_object_ids_from_packed(packed).tolist() == [
        int.from_bytes(p.encode("ascii"), "big") for p in packed
    ]
    with pytest.raises(ValueError, match="1 to 8 characters"):
        ss_object_ids_from_packed(["123456789"])


# MPC "Packed Dates" examples.
MPC_PACKED_DATES = [
    ("J9611", "1996-01-01"),
    ("J961A", "1996-01-10"),
    ("J969U", "1996-09-30"),
    ("J96A1", "1996-10-01"),
    ("K01AM", "2001-10-22"),
    ("K161D", "2016-01-13"),
]


@pytest.mark.parametrize(("packed", "iso"), MPC_PACKED_DATES)
def test_packed_dates_match_astropy(packed, iso):
    assert unpack_packed_epoch(packed) == Time(iso, scale="tt").mjd


@pytest.mark.parametrize(
    ("packed", "iso", "fraction"),
    [("J981I73", "1998-01-18", 0.73), ("K01AM138303", "2001-10-22", 0.138303)],
)
def test_packed_dates_with_fractional_days(packed, iso, fraction):
    assert unpack_packed_epoch(packed) == pytest.approx(Time(iso).mjd + fraction, abs=1e-9)


def test_mpcorb_epoch_of_the_2016_file():
    assert unpack_packed_epoch("K161D") == 57400.0


@pytest.mark.parametrize("bad", ["", "K161", "K16D1", "X161D", "K160D", "K161W", "K161D.5"])
def test_bad_packed_dates_are_explained(bad):
    with pytest.raises(ValueError, match=r"not an MPC packed date.*CYYMD"):
        unpack_packed_epoch(bad)


def test_impossible_calendar_dates_are_rejected():
    with pytest.raises(ValueError, match="'K162U' is not a calendar date"):
        unpack_packed_epoch("K162U")  # 2016 Feb. 30
