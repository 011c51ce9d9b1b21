"""Linking of unassociated detections into new Solar System objects.

Available so far: detection input (:func:`prepare_detections`), intra-night tracklets
(:func:`make_tracklets`), the HelioLinC3D-style search over heliocentric hypotheses
(:func:`find_candidates` from detections, :func:`search_tracklets` from tracklets; hypotheses
from :func:`hypothesis_grid` or :func:`read_hypotheses`) and linkage metrics in difi's
conventions (:mod:`linking.metrics`); orbit fits (:func:`fit_orbit`) and the whole pipeline
with purification (:func:`link`). Report formats and the ``sso link`` verb come next.
"""

from linking.detections import prepare_detections
from linking.heliolinc import Candidates, LinkingConfig, find_candidates, search_tracklets
from linking.hypotheses import hypothesis_grid, load_hypotheses, read_hypotheses
from linking.link import LinkResult, link, purify
from linking.metrics import (
    FindabilityRule,
    classify_linkages,
    completeness,
    findable_objects,
)
from linking.orbitfit import FitConfig, OrbitFit, fit_orbit
from linking.tracklets import TrackletConfig, Tracklets, make_tracklets

__all__ = [
    "Candidates",
    "FindabilityRule",
    "FitConfig",
    "LinkResult",
    "LinkingConfig",
    "OrbitFit",
    "TrackletConfig",
    "Tracklets",
    "classify_linkages",
    "completeness",
    "find_candidates",
    "findable_objects",
    "fit_orbit",
    "hypothesis_grid",
    "link",
    "load_hypotheses",
    "make_tracklets",
    "prepare_detections",
    "purify",
    "read_hypotheses",
    "search_tracklets",
]
