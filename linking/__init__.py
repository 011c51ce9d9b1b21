"""Linking of unassociated detections into new Solar System objects.

Available so far: detection input (:func:`prepare_detections`), intra-night tracklets
(:func:`make_tracklets`), the HelioLinC3D-style search over heliocentric hypotheses
(:func:`find_candidates` from detections, :func:`search_tracklets` from tracklets; hypotheses
from :func:`hypothesis_grid` or :func:`read_hypotheses`) and linkage metrics in difi's
conventions (:mod:`linking.metrics`); initial orbits by Gauss's method (:func:`gauss_orbits`,
:func:`initial_orbits`), orbit fits with 2-body or N-body motion (:func:`fit_orbit`), the whole
pipeline with purification and merging (:func:`link`), and the MPC astrometry formats
(:func:`read_mpc80`, :func:`read_ades`, :func:`read_astrometry`, :func:`format_mpc80`,
:func:`format_ades_psv`, :func:`temporary_designation`), and orbit determination from any
astrometry of one object (:func:`determine_orbit`). The ``sso link`` verb runs the linking
on files, stage by stage; ``sso orbit fit`` the orbit determination.
"""

from ephemerides.provenance import __version__
from linking.detections import prepare_detections
from linking.heliolinc import (
    Candidates,
    LinkingConfig,
    find_candidates,
    load_trail_hypotheses,
    search_tracklets,
)
from linking.hypotheses import hypothesis_grid, load_hypotheses, read_hypotheses
from linking.iod import gauss_orbits, initial_orbits
from linking.link import LinkResult, link, purify
from linking.metrics import (
    FindabilityRule,
    classify_linkages,
    completeness,
    findable_objects,
)
from linking.mpc_formats import (
    format_ades_psv,
    format_mpc80,
    read_ades,
    read_astrometry,
    read_mpc80,
    temporary_designation,
)
from linking.orbitdet import DeterminationConfig, determine_orbit, read_fitted_orbits
from linking.orbitfit import FitConfig, Observations, OrbitFit, fit_orbit, prior_information
from linking.tracklets import TrackletConfig, Tracklets, make_tracklets

__all__ = [
    "Candidates",
    "DeterminationConfig",
    "FindabilityRule",
    "FitConfig",
    "LinkResult",
    "LinkingConfig",
    "Observations",
    "OrbitFit",
    "TrackletConfig",
    "Tracklets",
    "__version__",
    "classify_linkages",
    "completeness",
    "determine_orbit",
    "find_candidates",
    "findable_objects",
    "fit_orbit",
    "format_ades_psv",
    "format_mpc80",
    "gauss_orbits",
    "hypothesis_grid",
    "initial_orbits",
    "link",
    "load_hypotheses",
    "load_trail_hypotheses",
    "make_tracklets",
    "prepare_detections",
    "prior_information",
    "purify",
    "read_ades",
    "read_astrometry",
    "read_fitted_orbits",
    "read_hypotheses",
    "read_mpc80",
    "search_tracklets",
    "temporary_designation",
]
