"""The declared table schemas: conversion of numbers written as text, and refusals that name
the column, the rows and what is allowed."""

import numpy as np
import pandas as pd
import pytest

from ephemerides.errors import InputError
from ephemerides.schemas import DIASOURCE, VISIT
from sso.cadence import synthetic_cadence, validate_visits


@pytest.fixture(scope="module")
def visits():
    return synthetic_cadence(3, nights=1).head(4)


@pytest.mark.parametrize(("change", "message"), [
    (lambda v: v.assign(filter=["g", "x", "r", "i"]),
     r"visit table: column 'filter' is not allowed in row 1 \(observationId=\d+\): 'x'; "
     r"allowed: text among \['u', 'g', 'r', 'i', 'z', 'y'\]"),
    (lambda v: v.assign(fieldDec=[0.0, 0.0, 95.0, 0.0]),
     r"'fieldDec' is out of range in row 2.*in \[-90, 90\] deg"),
    (lambda v: v.assign(visitExposureTime=[30.0, 0.0, 30.0, 30.0]),
     r"'visitExposureTime' is out of range in row 1.*> 0 s"),
    (lambda v: v.assign(observationId=[1, 2, 2, 3]), r"'observationId' must be unique.*\[2\]"),
    (lambda v: v.drop(columns=["rotSkyPos", "fieldRA"]),
     r"lacks the column\(s\) \['fieldRA', 'rotSkyPos'\]"),
    (lambda v: v.head(0), "visit table is empty"),
])
def test_visit_refusals_name_column_rows_and_what_is_allowed(visits, change, message):
    with pytest.raises(InputError, match=message):
        validate_visits(change(visits))


def test_text_columns_become_their_declared_types(visits):
    as_text = visits.astype(str)
    pd.testing.assert_frame_equal(validate_visits(as_text), validate_visits(visits))
    table = DIASOURCE.check(pd.DataFrame({
        "diaSourceId": ["1", "2"], "midpointMjdTai": ["61000.5", "61000.6"],
        "ra": ["359.5", "0"], "dec": ["-90", "90"], "visit": [7.0, np.nan],
        "raErr": ["", "1e-5"]}))
    assert table["diaSourceId"].tolist() == [1, 2] and table["diaSourceId"].dtype == np.int64
    assert table["ra"].tolist() == [359.5, 0.0]
    assert table["visit"].dtype == "Int64" and table["visit"].isna().tolist() == [False, True]
    # Nullable integers as Parquet gives them (pandas' Int64 with a gap) stay nullable.
    gappy = DIASOURCE.check(table.assign(visit=pd.array([7, None], dtype="Int64")))
    assert gappy["visit"].dtype == "Int64" and gappy["visit"].tolist()[0] == 7
    assert np.isnan(table["raErr"][0]) and table["raErr"][1] == 1e-5


def test_schema_describes_its_columns():
    assert DIASOURCE.required == ["diaSourceId", "midpointMjdTai", "ra", "dec"]
    assert "ra: numbers in [0, 360) deg" in DIASOURCE.describe(["ra"])
    assert {c.name for c in VISIT.columns if c.required} == {c.name for c in VISIT.columns}
