"""Linking of unassociated detections into new Solar System objects.

Available so far: detection input (:func:`prepare_detections`), intra-night tracklets
(:func:`make_tracklets`) and linkage metrics in difi's conventions (:mod:`linking.metrics`).
The HelioLinC3D-style search and orbit fitting come next.
"""

from linking.detections import prepare_detections
from linking.metrics import (
    FindabilityRule,
    classify_linkages,
    completeness,
    findable_objects,
)
from linking.tracklets import TrackletConfig, Tracklets, make_tracklets

__all__ = [
    "FindabilityRule",
    "TrackletConfig",
    "Tracklets",
    "classify_linkages",
    "completeness",
    "findable_objects",
    "make_tracklets",
    "prepare_detections",
]
