"""The linking pipeline end to end: ten simulated LSST objects become ten pure linkages with
orbits, no detection in two linkages, independent of the input row order."""

import numpy as np
import pandas as pd
from references import ten_objects_detections

import linking


def test_ten_objects_become_ten_pure_linkages(shared_data):
    table, truth = ten_objects_detections(shared_data)
    result = linking.link(table)
    assert len(result.linkages) == 10
    classified = linking.classify_linkages(result.members[["linkage_id", "diaSourceId"]], truth)
    assert (classified["linkage_class"] == "pure").all()
    assert classified["linked_object_id"].nunique() == 10
    assert not result.members["diaSourceId"].duplicated().any()
    # Every detection is either in a linkage or returned as unlinked.
    assert len(result.members) + len(result.unlinked) == len(table)
    assert set(result.unlinked["diaSourceId"]).isdisjoint(result.members["diaSourceId"])
    assert (result.linkages["rms_arcsec"] <= 1.0).all()
    assert (result.linkages["n_nights"] >= 3).all() and (result.linkages["n_detections"] >= 6).all()
    assert np.isfinite(np.stack(result.linkages["covariance"])).all()
    # Residuals agree with the RMS of each linkage.
    rms = result.members.groupby("linkage_id")[["residual_ra_arcsec", "residual_dec_arcsec"]].apply(
        lambda r: np.sqrt(np.mean(r.to_numpy() ** 2)))
    np.testing.assert_allclose(rms.to_numpy(), result.linkages["rms_arcsec"], rtol=1e-9)

    shuffled = table.sample(frac=1.0, random_state=3).reset_index(drop=True)
    again = linking.link(shuffled)
    pd.testing.assert_frame_equal(again.linkages, result.linkages)
    pd.testing.assert_frame_equal(again.members, result.members)
