"""The nightly pipeline: association of known objects, then linking of what nobody claimed.

:func:`associate_visits` is one night's association with its outputs on disk (``sso associate``).
:func:`run_night` is ``sso night``: for the night of a date it

1. builds the night's ephemeris cache of the known orbits — the catalogue plus the objects
   discovered on earlier nights (reused when the folder holds a cache of the same orbits and
   night) — and associates the night's DIASources with it;
   then **attributes** the detections associated with earlier discoveries to them and refits
   each such discovery's orbit (N-body, :func:`linking.fit_orbit`) on its discovery detections
   and every detection attributed since: a fit that is ``ok`` becomes the discovery's orbit
   from the next night on, and its covariance sets the association radius. **Tracked**
   catalogue objects are treated alike: the orbits to improve (``improve``: their given
   orbit and covariance replace the catalogue's, and every refit is joint with that orbit as
   prior) and the catalogue objects identified with a new object on an earlier night (step 3).
   A detection that an ``ok`` refit rejects is withdrawn: unassociated again (the night's
   tables rewritten), it goes to the window;
2. adds the night's unassociated DIASources to a rolling window of ``window_nights`` nights
   (one Parquet file per night in the state folder);
3. links the window (:func:`sso.linkjob.run_link_job`) without the detections already claimed by
   discoveries of earlier nights or attributed to them, and records the new objects (orbits,
   claimed detections) in the state folder, so that later nights associate them like
   catalogued objects — unless a new object is **identified** with an earlier discovery or
   tracked object (every detection within ``PRECOVERY_SIGMAS`` of its prediction and a joint
   fit keeping them all), or else with a catalogue object predicted in tonight's exposures but
   not associated (every detection within ``identify_radius_arcsec`` of its prediction — a
   catalogue orbit has no covariance — and a fit from its orbit keeping them all): it then
   joins that object (its detections attributed, the orbit refitted, a catalogue object
   tracked from then on; the night's ``link/`` reports keep the linking's temporary
   designation, ``identified.parquet`` and the report say which object it is); then
   **precovers**: each new orbit is compared with
   every unassociated detection of the state's nights (the window's and older) that nobody
   took, those within ``PRECOVERY_SIGMAS`` (5) of its prediction (the orbit's uncertainty and
   the detection's combined) join a refit, and the ones an ``ok`` refit keeps are attributed
   to it;
4. writes the night's report.

State folder
------------
=========================================  ======================================================
``window/night=<N>.parquet``               unassociated DIASources of night N (MJD of its noon)
``discovered.parquet``                     new objects: ``object_id`` (temporary designation),
                                           ``discovered_night``, the fitted heliocentric ICRF
                                           state ``x_au … vz_au_per_day`` at ``epoch_mjd_tdb``,
                                           ``H`` and the state's ``covariance``
``claimed.parquet``                        ``diaSourceId, object_id, discovered_night`` of the
                                           window detections in those objects
``attributed.parquet``                     detections attributed to them (and to tracked
                                           catalogue objects) later — associated on a later
                                           night, identified or precovered — (``diaSourceId,
                                           object_id, night`` of the attribution, time,
                                           position, errors)
``orbit_updates.parquet``                  their refitted orbits, one row per object and night
                                           (state, epoch, covariance, detections, nights, RMS)
``identified.parquet``                     new objects identified with earlier discoveries or
                                           catalogue objects (``object_id, identified_as,
                                           night``)
``nights/<YYYY-MM-DD>/``                   the night: ``cache/`` (in parts), ``diasources.parquet``
                                           (with ``ssObjectId``), ``sssources.parquet``,
                                           ``unassociated_ssobjects.parquet``, ``link/`` (the
                                           linking job's folder: new orbits in ``orbits.csv``,
                                           its MPC and ADES reports), ``astrometry.mpc`` and
                                           ``astrometry.psv`` (the night's reports to submit:
                                           the new objects', and those identified with earlier
                                           discoveries under their designations),
                                           ``report.json``,
                                           ``summary.txt``, ``timings.json``
``nights.json``, ``.lock``                 the ledger of the nights run and the lock of the run
                                           writing the state (:mod:`sso.state`)
=========================================  ======================================================

A night only reads what earlier nights left (discoveries with ``discovered_night < N``,
attributions and orbit updates of nights < N, window files of nights ≤ N) and replaces its
own rows, so running a night again reproduces its outputs
byte for byte (``timings.json`` and the times in ``summary.txt`` aside), and a night killed
mid-way resumes: every file is written atomically, the linking job resumes by stage, and the
state is updated last (the ledger at the very end). One run writes the state at a time (a second
is refused at once), and nights run in order: an earlier night than the state's last is refused
unless ``rewind``, which rolls the later nights back first, so that running them again gives the
in-order run's state. A night without DIASources is recorded as lost to weather.
"""

import json
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ephemerides import NightlyCache, observer_states
from ephemerides.constants import ECLIPTIC_TO_EQUATORIAL
from ephemerides.designations import ss_object_ids
from ephemerides.elements import ecliptic_to_equatorial, equatorial_to_ecliptic, orbits_to_states
from ephemerides.errors import InputError
from ephemerides.observers import observatory
from ephemerides.orbits import DEFAULT_G, validate_orbits
from ephemerides.progress import Progress, message
from ephemerides.provenance import recorded, recording
from ephemerides.schemas import ATTRIBUTED, CLAIMED, DISCOVERED, IDENTIFIED, ORBIT_UPDATES
from ephemerides.tablefiles import read_table_file
from ephemerides.timescales import quiet_erfa
from linking import LinkingConfig, Observations, prior_information
from linking.detections import astrometric_sigma_arcsec, prepare_detections
from linking.metrics import angular_separation_arcsec
from linking.mpc_formats import (
    ades_context,
    format_ades_psv,
    format_mpc80,
    reportable_designation,
    temporary_designation,
)
from linking.orbitfit import TT_MINUS_TAI_DAYS, fit_orbit, residuals, sky_covariance
from sso.association import (
    associate,
    association_night,
    check_radius_arcsec,
    combine_nights,
    validate_diasources,
)
from sso.cadence import night_of, visit_midpoints
from sso.cutouts import check_cutouts, with_measured_trails
from sso.footprint import make_footprint
from sso.io import (
    check_output_folder,
    read_diasource_dataset,
    write_table_atomic,
    write_text_atomic,
)
from sso.linkjob import linked_astrometry, run_link_job
from sso.state import NO_DIASOURCES, PROCESSED, nights_run, read_ledger, state_lock, write_ledger
from sso.workunits import UNIT_ORBITS, build_cache

WINDOW_NIGHTS = 15
CART_COLUMNS = ("x_au", "y_au", "z_au", "vx_au_per_day", "vy_au_per_day", "vz_au_per_day")
# A discovery's association radius grows with the uncertainty of its orbit: this many σ of the
# predicted position (major axis), capped (a wider circle mostly collects noise).
DISCOVERY_SIGMAS = 5.0
MAX_DISCOVERY_UNCERTAINTY_ARCSEC = 30.0
# Precovery: earlier detections within this many σ of a new orbit's prediction (its predicted
# uncertainty and the detection's own) are tried in its refit.
PRECOVERY_SIGMAS = 5.0
# A catalogue object's prediction and a detection are of one exposure within this time.
SAME_EXPOSURE_DAYS = 60.0 / 86400.0


@recorded(settings=("radius_arcsec", "uncertainty_arcsec", "observatory_code", "footprint",
                    "unit_orbits", "night"),
          inputs=("diasources", "visits", "orbits", "cache", "detector_corners"))
def associate_visits(diasources: pd.DataFrame, visits: pd.DataFrame, out, *, orbits=None,
                     cache: NightlyCache | None = None, radius_arcsec: float = 1.0,
                     uncertainty_arcsec=None, observatory_code: str = "X05",
                     footprint: str = "circle",
                     detector_corners=None, executor=None, unit_orbits: int = UNIT_ORBITS,
                     dataset=None, progress: Progress | None = None,
                     night: int | None = None) -> dict:
    """Associate DIASources of one night or several and write the results into ``out``.

    The visits are cut to ``night`` (MJD of its noon, :func:`night_number`) or, when None, to
    the DIASources' night(s) — so a night whose visits found no DIASource is associated too
    (every prediction unseen) when it is named; the cache is ``cache`` (one night only) or
    built from ``orbits`` for each night in units of ``unit_orbits`` on ``executor``
    (:func:`sso.workunits.build_cache`), each unit committing its part to ``out/cache/`` (to
    ``out/cache/<date>/`` when there are several nights), and each night is associated with
    its own cache, the results put together (:func:`sso.association.combine_nights`);
    ``uncertainty_arcsec`` widens the radius of some objects and ``dataset`` names the DIASource
    dataset the units read their visits from (:func:`sso.association.associate`); ``progress``
    receives the progress reports (:mod:`ephemerides.progress`; None: silent).
    Writes ``diasources.parquet`` (with ``ssObjectId``), ``sssources.parquet``,
    ``unassociated_ssobjects.parquet`` and ``summary.json``; returns the summary.
    """
    out = check_output_folder(out)
    diasources = validate_diasources(diasources)
    nights = (np.unique(night_of(diasources["midpointMjdTai"].to_numpy())) if night is None
              else np.array([night]))
    if nights.size == 0:
        raise InputError("the DIASource table has no rows: give night=… to associate that "
                         "night's visits anyway")
    visits = visits[np.isin(night_of(visit_midpoints(visits)), nights)]
    if len(visits) == 0:
        raise InputError(f"no visit falls on the night(s) {nights.tolist()}")
    visit_nights = night_of(visit_midpoints(visits))
    several = np.unique(visit_nights).size > 1
    if several and cache is not None:
        raise InputError(f"the DIASources span {np.unique(visit_nights).size} nights and a "
                         "cache holds one: give orbits=… to build one cache per night")
    built = cache is None
    rows, spans = [], []
    for each in np.unique(visit_nights):  # checked before any cache is built
        mine = diasources["visit"].isin(visits.loc[visit_nights == each, "observationId"])
        rows.append(np.flatnonzero(mine.to_numpy()))
        spans.append(association_night(diasources[mine.to_numpy()],
                                       visits[visit_nights == each]))
    parts, n_cached, params = [], 0, []
    for each, mine, (start, end) in zip(np.unique(visit_nights), rows, spans, strict=True):
        if built:
            message(progress, "association",
                    f"building the cache of MJD {start:.5f}-{end:.5f} (TAI)")
            folder = out / "cache" / night_date(int(each)) if several else out / "cache"
            cache = build_cache(orbits, start, end, observatory_code, executor, unit_orbits,
                                folder=folder)
        n_cached += len(cache.objects)
        params.append(cache.params)
        parts.append(associate(diasources.iloc[mine], visits[visit_nights == each], cache,
                               radius_arcsec, uncertainty_arcsec=uncertainty_arcsec or None,
                               observatory_code=observatory_code, footprint=footprint,
                               detector_corners=detector_corners, progress=progress,
                               executor=executor, dataset=dataset))
    result = combine_nights(parts, rows, visits) if several else parts[0]
    counts = result.visit_counts
    summary = {
        "n_visits": len(counts),
        "n_diasources": int(counts["n_diasources"].sum()),
        "n_associated": int(counts["n_associated"].sum()),
        "n_predicted": int(counts["n_predicted"].sum()),
        "n_unassociated_ssobjects": int(counts["n_unassociated_objects"].sum()),
        "n_cached_objects": n_cached,
        "nights": [night_date(int(each)) for each in np.unique(visit_nights)],
        "night_start_mjd_tai": params[0]["night_start_mjd_tai"],
        "night_end_mjd_tai": params[-1]["night_end_mjd_tai"],
        "observatory_code": observatory_code,
        "radius_arcsec": radius_arcsec,
        "footprint": footprint,
        "cache": "built" if built else "given",
    }
    out.mkdir(parents=True, exist_ok=True)
    write_table_atomic(result.diasources, out / "diasources.parquet")
    write_table_atomic(result.sssources, out / "sssources.parquet")
    write_table_atomic(result.unassociated_ssobjects, out / "unassociated_ssobjects.parquet")
    write_text_atomic(json.dumps(summary, indent=2, sort_keys=True) + "\n", out / "summary.json")
    summary["result"] = result
    return summary


def night_number(date: str) -> int:
    """MJD of the noon that starts the night of ``date`` (YYYY-MM-DD, dayObs convention: the
    night of D runs from D 12:00 to D+1 12:00 UTC), as :func:`sso.cadence.night_of` counts."""
    from astropy.time import Time

    try:
        with quiet_erfa():
            return int(np.floor(Time(date, format="iso", scale="utc").mjd))
    except ValueError:
        raise InputError(f"{date!r} is not a date YYYY-MM-DD (the night that begins on "
                         "it)") from None


def night_date(night: int) -> str:
    """The date YYYY-MM-DD on which the night ``night`` (MJD of its noon) begins: the inverse
    of :func:`night_number`."""
    from astropy.time import Time

    with quiet_erfa():
        return Time(float(night), format="mjd", scale="utc").iso[:10]


@dataclass(frozen=True)
class NightSettings:
    """Settings of :func:`run_night`.

    Attributes
    ----------
    radius_arcsec : float
        Association radius (arcsec).
    observatory_code : str
        MPC code of the site.
    footprint : str
        ``"circle"`` or ``"lsst"`` (with ``detector_corners``).
    detector_corners : str or None
        Detector corner file for the LSST footprint.
    window_nights : int
        Nights of unassociated detections the linking sees (the night and the 14 before).
    link : LinkingConfig
        Linking settings.
    designation_prefix : str
        First character of the new objects' temporary designations.
    unit_orbits : int
        Orbits per work unit of the cache (:func:`sso.workunits.build_cache`).
    identify_radius_arcsec : float
        Identification with catalogue orbits (which come without covariance): how far from a
        catalogue object's prediction every detection of a new object may lie for the two to
        be tried as one object (120″: a few years' drift of a poorly known orbit).
    ades_header : dict
        ``submitter``, ``observers``, ``measurers``, ``telescope`` of the ADES reports
        (:func:`linking.mpc_formats.format_ades_psv`).
    """

    radius_arcsec: float = 1.0
    observatory_code: str = "X05"
    footprint: str = "circle"
    detector_corners: str | None = None
    window_nights: int = WINDOW_NIGHTS
    link: LinkingConfig = field(default_factory=LinkingConfig)
    designation_prefix: str = "S"
    unit_orbits: int = UNIT_ORBITS
    identify_radius_arcsec: float = 120.0
    ades_header: dict = field(default_factory=dict)

    def validate(self) -> None:
        """Raise InputError naming the setting when one is not allowed (before any work)."""
        check_radius_arcsec(self.radius_arcsec)
        observatory(self.observatory_code)
        make_footprint(self.footprint, self.detector_corners)
        if not (isinstance(self.window_nights, int) and self.window_nights >= 1):
            raise InputError(f"window_nights must be an integer >= 1; got "
                             f"{self.window_nights!r}")
        if not (isinstance(self.unit_orbits, int) and self.unit_orbits >= 1):
            raise InputError(f"unit_orbits must be an integer >= 1; got {self.unit_orbits!r}")
        radius = self.identify_radius_arcsec
        if not (isinstance(radius, int | float) and 0.0 < radius <= 3600.0):
            raise InputError(f"identify_radius_arcsec must be in (0, 3600] arcsec; got "
                             f"{radius!r}")
        if not isinstance(self.link, LinkingConfig):
            raise InputError(f"link must be a LinkingConfig; got {self.link!r}")
        self.link.validate()
        temporary_designation(0.0, 0, self.designation_prefix)
        ades_context([self.observatory_code], **self.ades_header)


def _catalogue_states(orbits: pd.DataFrame) -> pd.DataFrame:
    """An orbit table as CART rows (heliocentric ecliptic J2000), to join tables of any format."""
    states, epochs = orbits_to_states(orbits, frame="ecliptic", origin="sun")
    table = pd.DataFrame({"object_id": orbits["object_id"].to_numpy(),
                          "ssObjectId": orbits["ssObjectId"].to_numpy(), "format": "CART"})
    for k, name in enumerate(CART_COLUMNS):
        table[name] = states[:, k]
    table["epoch_mjd_tdb"] = epochs
    table["H"] = orbits["H"].to_numpy()
    table["G"] = orbits["G"].to_numpy()
    return table


def _empty(schema) -> pd.DataFrame:
    """A table of ``schema``'s columns and types without rows."""
    return pd.DataFrame(columns=list(schema.dtypes)).astype(schema.dtypes)


def _read_state(path: Path, schema) -> pd.DataFrame:
    """A state table checked against its schema (a damaged or corrupted state is named, not
    used), or an empty one with its columns, in its types whatever a night found."""
    if not path.is_file():
        return _empty(schema)
    return schema.check(read_table_file(path, "state table"), str(path)).astype(schema.dtypes)


def run_night(date: str, visits: pd.DataFrame, diasources, orbits: pd.DataFrame,
              state_dir, settings: NightSettings | None = None,
              progress: Progress | None = None,
              executor=None, rewind: bool = False, improve: pd.DataFrame | None = None,
              cutouts: pd.DataFrame | None = None) -> dict:
    """Process the night of ``date`` (module docstring); returns the night's report.

    Parameters
    ----------
    date : str
        YYYY-MM-DD, the date on which the night begins (dayObs).
    visits : pandas.DataFrame
        Visit table (any number of nights; the night's are used).
    diasources : pandas.DataFrame or str or Path
        DIASources (any number of nights; the night's are used), or the folder of a DIASource
        dataset (:mod:`sso.io`): only the night's partition is read, and the
        association's units read their own visits from it.
    orbits : pandas.DataFrame
        The catalogue of known orbits (:func:`ephemerides.read_orbits`).
    state_dir : str or Path
        State folder, created if missing; locked while the night runs (:mod:`sso.state`).
    settings : NightSettings, optional
    progress : callable, optional
        Receives progress reports (:mod:`ephemerides.progress`): the association's, the
        linking search's and the fits' counts, and a message per step with its result.
        None: silent.
    executor : optional
        Executor of :mod:`sso.executors` for the work units of the cache, the association and
        the linking search (serial if None).
    rewind : bool
        Allow a night earlier than the last one in the state: the later nights are rolled back
        first (their discoveries, claims, window files, folders and ledger entries). Without
        it such a night is refused and nothing changes.
    improve : pandas.DataFrame, optional
        Orbits to improve (:func:`linking.read_fitted_orbits`, e.g. ``sso orbit fit``'s
        output): each replaces the catalogue's orbit of its ``object_id`` (or joins the
        catalogue), the detections associated with it are attributed to it and its orbit is
        refitted on them — jointly with the given orbit where a ``covariance`` comes with it
        (the given orbit as prior, :func:`linking.fit_orbit`), on the survey's detections
        alone (three nights or more) where none does.
    cutouts : pandas.DataFrame, optional
        Difference-image cutouts of DIASources (:mod:`sso.cutouts`, any nights): the trails
        of the night's are measured and the association checks them against their errors.

    Raises
    ------
    ValueError
        Bad settings or input; :class:`sso.state.StateInUseError` when another run holds the
        state; a night earlier than the state's last without ``rewind``.
    """
    settings = NightSettings() if settings is None else settings
    settings.validate()
    night = night_number(date)
    priors = _improve_priors(improve)
    if cutouts is not None:
        check_cutouts(cutouts)
    state = check_output_folder(state_dir, "state_dir")

    def say(text: str) -> None:
        message(progress, "night", text)

    dataset = None
    if not isinstance(diasources, pd.DataFrame):
        dataset = Path(diasources)
        diasources = read_diasource_dataset(dataset, nights=[night])
    tonight = validate_diasources(diasources)
    tonight = tonight[night_of(tonight["midpointMjdTai"].to_numpy()) == night]
    if cutouts is not None:
        # The measured trails go with tonight's DIASources (not re-read from a dataset).
        tonight = with_measured_trails(tonight, cutouts)
        dataset = None
    visits = visits[night_of(visit_midpoints(visits)) == night]
    # The night's DIASources and visits are its inputs, however they were given (a table, a
    # dataset folder): the outputs' provenance (ephemerides.provenance) does not tell them apart.
    with (recording("sso.night.run_night", {"date": date, "settings": settings},
                    {"diasources": tonight, "visits": visits, "orbits": orbits,
                     "improve": improve, "cutouts": cutouts}),
          state_lock(state, f"the night of {date}") as left):
        if left:
            say(f"the lock left by a run that ended without releasing it ({left.get('command')}, "
                f"process {left.get('pid')} since {left.get('since')}) is taken over")
        later = sorted(n for n in nights_run(state) if n > night)
        if later and not rewind:
            raise InputError(
                f"the night of {date} comes before the last night in state_dir={str(state)!r}, "
                f"{night_date(later[-1])}: nights run in order. Pass rewind=True to roll the "
                f"state back to before {date} ({len(later)} later night(s) dropped), or use "
                "another state folder")
        if later:
            _rewind(state, later)
            say(f"rolled back {len(later)} later night(s): {', '.join(map(night_date, later))}")
        if len(tonight) == 0:
            return _night_without_data(state, date, night, len(visits), say)
        return _process_night(state, date, night, tonight, visits, orbits, settings, executor,
                              dataset, progress, improve, priors)




def _rewind(state: Path, later: list[int]) -> None:
    """Roll the state back to before the nights ``later``: the ledger first (a run interrupted
    here finds the later nights' leftovers ignored or replaced), then their discoveries and
    claims, window files and folders."""
    ledger = read_ledger(state)
    dates = {n: ledger.get(n, {}).get("date", night_date(n)) for n in later}
    write_ledger(state, {n: entry for n, entry in ledger.items() if n not in dates})
    for name, schema, column in (("discovered.parquet", DISCOVERED, "discovered_night"),
                                 ("claimed.parquet", CLAIMED, "discovered_night"),
                                 ("attributed.parquet", ATTRIBUTED, "night"),
                                 ("orbit_updates.parquet", ORBIT_UPDATES, "night"),
                                 ("identified.parquet", IDENTIFIED, "night")):
        if (state / name).is_file():
            table = _read_state(state / name, schema)
            write_table_atomic(table[~table[column].isin(later)].reset_index(drop=True),
                               state / name)
    for n, date in dates.items():
        (state / "window" / f"night={n}.parquet").unlink(missing_ok=True)
        shutil.rmtree(state / "nights" / date, ignore_errors=True)


def _night_without_data(state: Path, date: str, night: int, n_visits: int, say) -> dict:
    """Record a night without DIASources (lost to weather): no window file, no discoveries,
    its report and an entry in the ledger."""
    (state / "window" / f"night={night}.parquet").unlink(missing_ok=True)
    _record_updates(state, night, _empty(ATTRIBUTED), _empty(ORBIT_UPDATES), _empty(IDENTIFIED))
    _record_discoveries(state, night, *_no_discoveries())
    night_dir = state / "nights" / date
    night_dir.mkdir(parents=True, exist_ok=True)
    report = {"date": date, "night_mjd": night, "status": NO_DIASOURCES, "n_visits": n_visits,
              "n_diasources": 0, "n_new_objects": 0, "new_objects": []}
    write_text_atomic(json.dumps(report, indent=2) + "\n", night_dir / "report.json")
    ledger = read_ledger(state)
    ledger[night] = {"date": date, "status": NO_DIASOURCES}
    write_ledger(state, ledger)
    say(f"no DIASource on this night (MJD {night}.5 to {night + 1}.5 TAI): recorded as a night "
        "without data")
    return {**report, "timings": {}}


def _process_night(state: Path, date: str, night: int, tonight: pd.DataFrame,
                   visits: pd.DataFrame, orbits: pd.DataFrame, settings: NightSettings,
                   executor, dataset, progress, improve, priors) -> dict:
    """The night's association, window, linking and state (module docstring), under the lock;
    ``progress``: where its reports go (:mod:`ephemerides.progress`), or None."""

    def say(text: str) -> None:
        message(progress, "night", text)

    timings = {}
    t0 = time.perf_counter()
    # The state is read (and checked) before anything is written.
    discovered = _read_state(state / "discovered.parquet", DISCOVERED)
    claimed = _read_state(state / "claimed.parquet", CLAIMED)
    attributed = _read_state(state / "attributed.parquet", ATTRIBUTED)
    updates = _read_state(state / "orbit_updates.parquet", ORBIT_UPDATES)
    identified = _read_state(state / "identified.parquet", IDENTIFIED)
    night_dir = state / "nights" / date
    night_dir.mkdir(parents=True, exist_ok=True)
    # A report stands for a completed run: an earlier run's goes until this one completes.
    (night_dir / "report.json").unlink(missing_ok=True)

    # 1. Association with the catalogue and the earlier discoveries, whose radius grows with the
    # uncertainty of their orbit.
    # Catalogue objects whose orbits the survey refits (the orbits to improve, and those
    # identified with new objects on earlier nights) are associated and attributed like the
    # discoveries.
    discovered = discovered[discovered["discovered_night"] < night].reset_index(drop=True)
    attributed = attributed[attributed["night"] < night].reset_index(drop=True)
    identified = identified[identified["night"] < night]
    tracked = _tracked_objects(orbits, improve, identified, discovered)
    followed = latest_orbits(pd.concat([discovered, tracked], ignore_index=True),
                             updates[updates["night"] < night])
    earlier = _discovered_orbits(followed, orbits)
    known = orbits[~orbits["object_id"].isin(set(tracked["object_id"]))]
    if len(earlier):
        known = pd.concat([_catalogue_states(known), earlier], ignore_index=True)
    start, end = association_night(tonight, visits)
    # The cache's units reuse the parts an earlier run of the night left for the same orbits.
    assoc = associate_visits(tonight, visits, night_dir, orbits=known,
                             radius_arcsec=settings.radius_arcsec,
                             uncertainty_arcsec=_uncertainties(
                                 followed, earlier, 0.5 * (start + end),
                                 settings.observatory_code),
                             observatory_code=settings.observatory_code,
                             footprint=settings.footprint,
                             detector_corners=settings.detector_corners, executor=executor,
                             unit_orbits=settings.unit_orbits, dataset=dataset,
                             progress=progress)
    timings["association"] = round(time.perf_counter() - t0, 3)
    say(f"{assoc['n_associated']} of {assoc['n_diasources']} DIASources associated")
    result = assoc.pop("result")

    # 1b. Attribution: tonight's detections of earlier discoveries (and tracked catalogue
    # objects) join their observations and their orbits are refitted (a tighter orbit, a
    # smaller association radius tomorrow).
    t0 = time.perf_counter()
    tonight_attributed = _attributions(result, earlier, night)
    updated, withdrawn = _refit_orbits(state, night, followed, claimed, attributed,
                                       tonight_attributed, settings, priors)
    if withdrawn:
        # Detections the refits rejected are not those objects': unassociated after all.
        tonight_attributed = tonight_attributed[
            ~tonight_attributed["diaSourceId"].isin(withdrawn)].reset_index(drop=True)
        result = _withdraw(result, withdrawn, night_dir)
    n_tracked = int(tonight_attributed["object_id"].isin(set(tracked["object_id"])).sum())
    timings["attribution"] = round(time.perf_counter() - t0, 3)
    if len(tonight_attributed):
        say(f"{len(tonight_attributed)} detections attributed to earlier discoveries and "
            f"tracked objects; {len(updated)} orbits refitted")

    # 2. The rolling window of unassociated detections.
    t0 = time.perf_counter()
    unassociated = result.diasources[result.diasources["ssObjectId"].isna()].drop(
        columns="ssObjectId")
    (state / "window").mkdir(exist_ok=True)
    write_table_atomic(unassociated.sort_values("diaSourceId", ignore_index=True),
                       state / "window" / f"night={night}.parquet")
    taken = set(claimed.loc[claimed["discovered_night"] < night, "diaSourceId"]) | set(
        attributed["diaSourceId"])
    parts = []
    for path in sorted((state / "window").glob("night=*.parquet")):
        n = int(path.stem.split("=", 1)[1])
        if night - settings.window_nights < n <= night:
            part = pd.read_parquet(path)
            parts.append(part[~part["diaSourceId"].isin(taken)])
    window = pd.concat(parts, ignore_index=True).sort_values("diaSourceId", ignore_index=True)
    timings["window"] = round(time.perf_counter() - t0, 3)

    # 3. Linking of the window (nothing to link when every detection was associated).
    t0 = time.perf_counter()
    if len(window):
        link_summary = run_link_job(window, night_dir / "link", settings.link,
                                    observatory_code=settings.observatory_code,
                                    designation_prefix=settings.designation_prefix,
                                    designation_start=len(discovered) + len(identified),
                                    ades_header=settings.ades_header, progress=progress,
                                    executor=executor)
        linkages = pd.read_parquet(night_dir / "link" / "linkages.parquet")
        members = pd.read_parquet(night_dir / "link" / "members.parquet")
    else:
        say("every DIASource of the window is associated or claimed: nothing to link")
        link_summary = {"n_tracklets": 0, "n_candidates": 0, "n_linkages": 0}
        linkages, members = _no_discoveries()
    timings["linking"] = round(time.perf_counter() - t0, 3)

    # 3b. Identification: a new object that is an earlier discovery or a tracked object (a
    # joint fit keeps every detection of both), or a catalogue object predicted near it
    # tonight but not associated (every detection near its prediction, a fit from its orbit
    # keeping them all), joins it instead of becoming a new designation.
    t0 = time.perf_counter()
    linkages, members, joined, rejoined, pairs = _identify(
        state, night, linkages, members, followed, claimed, attributed, tonight_attributed,
        settings, priors, (result.unassociated_ssobjects, orbits, tracked))
    tonight_attributed = pd.concat([tonight_attributed, joined], ignore_index=True)
    updated = pd.concat([updated[~updated["object_id"].isin(set(rejoined["object_id"]))],
                         rejoined], ignore_index=True)
    timings["identification"] = round(time.perf_counter() - t0, 3)
    if len(pairs):
        say(f"{len(pairs)} new objects identified with earlier discoveries or known objects")

    # 3c. Precovery: the new objects' orbits searched through every earlier night's
    # unassociated detections that nobody took.
    t0 = time.perf_counter()
    precovered, refitted = _precover(state, night, linkages, members,
                                     taken | set(members["diaSourceId"]), settings)
    tonight_attributed = pd.concat([tonight_attributed, precovered], ignore_index=True)
    updated = pd.concat([updated, refitted], ignore_index=True)
    timings["precovery"] = round(time.perf_counter() - t0, 3)
    if len(precovered):
        say(f"{len(precovered)} earlier detections precovered for "
            f"{precovered['object_id'].nunique()} new objects")

    # The night's MPC and ADES reports: the new objects' detections, and those of the new
    # objects identified with earlier discoveries under the discoveries' designations.
    _write_reports(night_dir, window, members, joined, pairs, settings)

    # 4. State: this night's discoveries, attributions and orbit updates replace any earlier
    # run's; the ledger last.
    _record_updates(state, night, tonight_attributed, updated, pairs)
    found = _record_discoveries(state, night, linkages, members)

    report = {
        "date": date,
        "night_mjd": night,
        "n_visits": assoc["n_visits"],
        "n_diasources": assoc["n_diasources"],
        "n_associated": assoc["n_associated"] - len(withdrawn),
        "n_withdrawn": len(withdrawn),
        "n_known_objects": assoc["n_cached_objects"],
        "n_earlier_discoveries": len(discovered),
        "n_tracked_objects": len(tracked),
        "n_associated_with_earlier_discoveries": len(tonight_attributed) - len(precovered)
        - len(joined) - n_tracked,
        "n_associated_with_tracked_objects": n_tracked,
        "n_precovered": len(precovered),
        "n_identified_detections": len(joined),
        "identified": {row.object_id: row.identified_as for row in pairs.itertuples()},
        "n_orbits_updated": len(updated),
        "n_known_predicted_not_seen": int(
            result.unassociated_ssobjects["ssObjectId"].nunique()),
        "n_window_nights": len(parts),
        "n_window_detections": len(window),
        "n_tracklets": link_summary["n_tracklets"],
        "n_candidates": link_summary["n_candidates"],
        "n_new_objects": len(found),
        "new_objects": found["object_id"].tolist(),
    }
    write_text_atomic(json.dumps(report, indent=2) + "\n", night_dir / "report.json")
    write_text_atomic(json.dumps(timings, indent=2) + "\n", night_dir / "timings.json")
    write_text_atomic(_summary_text(report, timings), night_dir / "summary.txt")
    ledger = read_ledger(state)
    ledger[night] = {"date": date, "status": PROCESSED}
    write_ledger(state, ledger)
    say(f"{report['n_new_objects']} new objects; report in {night_dir}")
    return {**report, "timings": timings}


def _no_discoveries() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Empty ``linkages`` and ``members`` tables, as a linking job without linkages writes."""
    columns = ["designation", *(c for c in DISCOVERED.dtypes
                                if c not in ("object_id", "discovered_night"))]
    return (pd.DataFrame(columns=columns),
            pd.DataFrame({"diaSourceId": pd.Series(dtype="int64"),
                          "designation": pd.Series(dtype="str")}))


def _record_discoveries(state: Path, night: int, linkages: pd.DataFrame,
                        members: pd.DataFrame) -> pd.DataFrame:
    """Replace the night's rows of the state's ``discovered.parquet`` and ``claimed.parquet``
    by its new objects (``linkages.parquet`` and ``members.parquet`` of its linking job), in
    the state's column types; returns the night's discoveries."""
    found = linkages.rename(columns={"designation": "object_id"})
    found.insert(1, "discovered_night", night)
    found = found[list(DISCOVERED.dtypes)].astype(DISCOVERED.dtypes)
    discovered = _read_state(state / "discovered.parquet", DISCOVERED)
    discovered = pd.concat([discovered[discovered["discovered_night"] != night], found],
                           ignore_index=True)
    write_table_atomic(discovered.sort_values(["discovered_night", "object_id"],
                                              ignore_index=True), state / "discovered.parquet")
    claims = pd.DataFrame({"diaSourceId": members["diaSourceId"].to_numpy(),
                           "object_id": members["designation"].to_numpy(),
                           "discovered_night": night}).astype(CLAIMED.dtypes)
    claimed = _read_state(state / "claimed.parquet", CLAIMED)
    claimed = pd.concat([claimed[claimed["discovered_night"] != night], claims],
                        ignore_index=True)
    write_table_atomic(claimed.sort_values(["discovered_night", "object_id", "diaSourceId"],
                                           ignore_index=True), state / "claimed.parquet")
    return found


def latest_orbits(discovered: pd.DataFrame, updates: pd.DataFrame) -> pd.DataFrame:
    """The discoveries (``discovered.parquet``) with the orbit of their latest update in
    ``updates`` (``orbit_updates.parquet``, rows of the nights wanted): state, epoch,
    covariance."""
    if len(updates) == 0:
        return discovered
    latest = updates.sort_values("night", kind="stable").drop_duplicates("object_id",
                                                                         keep="last")
    columns = [*CART_COLUMNS, "epoch_mjd_tdb", "covariance"]
    out = discovered.copy()
    where = pd.Index(latest["object_id"]).get_indexer(out["object_id"])
    for column in columns:
        values = out[column].to_numpy(dtype=object if column == "covariance" else None).copy()
        values[where >= 0] = latest[column].to_numpy()[where[where >= 0]]
        out[column] = values
    return out.astype(DISCOVERED.dtypes)


def _attributed_rows(detections: pd.DataFrame, object_id, night: int) -> pd.DataFrame:
    """ATTRIBUTED rows of ``detections`` (DIASource columns) attributed to ``object_id`` (one
    name, or one per row) on ``night``, sorted by ``diaSourceId``."""
    table = pd.DataFrame({
        "diaSourceId": detections["diaSourceId"].to_numpy(np.int64),
        "object_id": object_id, "night": night,
        "midpointMjdTai": detections["midpointMjdTai"].to_numpy(np.float64),
        "ra": detections["ra"].to_numpy(np.float64),
        "dec": detections["dec"].to_numpy(np.float64),
        **{c: detections[c].to_numpy(np.float64) if c in detections.columns else np.nan
           for c in ("raErr", "decErr")},
    })
    return table.astype(ATTRIBUTED.dtypes).sort_values("diaSourceId", ignore_index=True)


def _attributions(result, earlier: pd.DataFrame, night: int) -> pd.DataFrame:
    """Tonight's detections associated with the earlier discoveries, as ATTRIBUTED rows."""
    names = pd.Series(earlier["object_id"].to_numpy(), index=earlier["ssObjectId"].to_numpy())
    hits = result.sssources[result.sssources["ssObjectId"].isin(names.index)]
    rows = result.diasources.set_index("diaSourceId").loc[hits["diaSourceId"].to_numpy()]
    return _attributed_rows(rows.reset_index(),
                            names.loc[hits["ssObjectId"].to_numpy()].to_numpy(), night)


def _window_detections(state: Path, ids) -> pd.DataFrame:
    """The detections ``ids`` from the window files of every night (claimed detections)."""
    wanted = set(ids)
    parts = [part[part["diaSourceId"].isin(wanted)]
             for part in (pd.read_parquet(path)
                          for path in sorted((state / "window").glob("night=*.parquet")))]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=["diaSourceId", "midpointMjdTai", "ra", "dec"])
    return pd.concat(parts, ignore_index=True)


def _object_detections(state: Path, objects, claimed: pd.DataFrame, attributed: pd.DataFrame,
                       tonight: pd.DataFrame) -> pd.DataFrame:
    """Every detection of the discoveries ``objects``: those their linkage claimed (from the
    window files) and those attributed to them since (``attributed``, ``tonight``), with
    ``object_id``, time, position and errors."""
    objects = set(objects)
    mine = claimed[claimed["object_id"].isin(objects)]
    found = _window_detections(state, mine["diaSourceId"])
    found = found.merge(mine[["diaSourceId", "object_id"]], on="diaSourceId")
    columns = list(ATTRIBUTED.dtypes)
    found = found.assign(night=0, **{c: np.nan for c in ("raErr", "decErr")
                                     if c not in found.columns})
    everything = pd.concat([found[columns], attributed[columns], tonight[columns]],
                           ignore_index=True).drop(columns="night")
    return everything[everything["object_id"].isin(objects)].reset_index(drop=True)


def _identify(state: Path, night: int, linkages: pd.DataFrame, members: pd.DataFrame,
              followed: pd.DataFrame, claimed: pd.DataFrame, attributed: pd.DataFrame,
              tonight: pd.DataFrame, settings: "NightSettings", priors: dict,
              unassociated: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]):
    """Identification of tonight's new objects, each with at most one object:

    - an earlier discovery or tracked object (``followed``): every detection of the new
      object within ``PRECOVERY_SIGMAS`` of its prediction (its uncertainty and the
      detection's combined; the closest such object), and their joint fit (with its prior,
      ``priors``) ``ok`` keeping every detection of both;
    - else a catalogue object predicted tonight but not associated (``unassociated``: the
      association's ``unassociated_ssobjects``, the catalogue and the tracked objects, for
      :func:`_catalogue_candidates`): one of tonight's detections within
      ``identify_radius_arcsec`` of its prediction in the same exposure, every detection
      within that radius of its N-body prediction, and the fit of the new object's
      detections from its orbit ``ok`` keeping them all (the closest such object).

    Returns the linkages and members left, the ATTRIBUTED rows of the joined detections, the
    ORBIT_UPDATES rows of the fits and the IDENTIFIED rows."""
    nothing = (linkages, members, _empty(ATTRIBUTED), _empty(ORBIT_UPDATES), _empty(IDENTIFIED))
    if len(linkages) == 0:
        return nothing
    catalogue = _catalogue_candidates(*unassociated)
    rows_of = _window_detections(state, members["diaSourceId"])
    joined, rejoined, pairs = [], [], []
    for link_row in linkages.sort_values("designation").itertuples(index=False):
        ids = set(members.loc[members["designation"] == link_row.designation, "diaSourceId"])
        frame = rows_of[rows_of["diaSourceId"].isin(ids)]
        prepared, obs = _observations(frame, settings)
        taken = {p["identified_as"] for p in pairs}
        match = _match_followed(state, frame, obs, followed, taken, claimed, attributed,
                                tonight, settings, priors)
        if match is None:
            match = _match_catalogue(frame, obs, catalogue, taken, settings)
        if match is None:
            continue
        name, fit, nights = match
        joined.append(_attributed_rows(prepared, name, night))
        rejoined.append(_update_row(name, night, fit, nights))
        pairs.append({"object_id": link_row.designation, "identified_as": name, "night": night})
    if not pairs:
        return nothing
    dropped = {p["object_id"] for p in pairs}
    return (linkages[~linkages["designation"].isin(dropped)].reset_index(drop=True),
            members[~members["designation"].isin(dropped)].reset_index(drop=True),
            pd.concat(joined, ignore_index=True).astype(ATTRIBUTED.dtypes),
            pd.DataFrame(rejoined, columns=list(ORBIT_UPDATES.dtypes)).astype(
                ORBIT_UPDATES.dtypes),
            pd.DataFrame(pairs, columns=list(IDENTIFIED.dtypes)).astype(IDENTIFIED.dtypes))


def _match_followed(state: Path, frame: pd.DataFrame, obs: Observations, followed: pd.DataFrame,
                    taken: set, claimed: pd.DataFrame, attributed: pd.DataFrame,
                    tonight: pd.DataFrame, settings: "NightSettings", priors: dict):
    """The earlier discovery or tracked object a new object's detections (``frame``, ``obs``)
    are (:func:`_identify`): (name, joint fit, nights of the fit's detections), or None."""
    best = None
    for row in followed.itertuples(index=False):
        if row.object_id in taken:
            continue
        state0 = np.array([getattr(row, c) for c in CART_COLUMNS])
        # A cheap 2-body look first: most objects are nowhere near.
        if np.nanmax(np.abs(residuals(state0, row.epoch_mjd_tdb, obs))) > 600.0:
            continue
        d2 = _distances2(state0, row.covariance, row.epoch_mjd_tdb, obs)
        if np.all(d2 < PRECOVERY_SIGMAS**2) and (best is None or d2.sum() < best[0]):
            best = (float(d2.sum()), row, state0)
    if best is None:
        return None
    _, row, state0 = best
    theirs = _object_detections(state, [row.object_id], claimed, attributed,
                                tonight).drop(columns="object_id")
    fit, fitted = _fit_detections(
        pd.concat([theirs, frame.reindex(columns=theirs.columns)], ignore_index=True),
        state0, row.epoch_mjd_tdb, settings, priors.get(row.object_id))
    if fit.status != "ok" or not fit.used.all():
        return None
    return row.object_id, fit, fitted["night"].to_numpy()


def _match_catalogue(frame: pd.DataFrame, obs: Observations,
                     catalogue: tuple[pd.DataFrame, pd.DataFrame], taken: set,
                     settings: "NightSettings"):
    """The catalogue object a new object's detections are (:func:`_identify`): (name, fit
    from its orbit, nights of the detections), or None."""
    predicted, states = catalogue
    radius = settings.identify_radius_arcsec
    times = frame["midpointMjdTai"].to_numpy(np.float64)
    same = np.abs(predicted["midpointMjdTai"].to_numpy()[:, None] - times[None, :]) \
        < SAME_EXPOSURE_DAYS
    pred, det = np.nonzero(same)
    separation = angular_separation_arcsec(predicted["ephRa"].to_numpy()[pred],
                                    predicted["ephDec"].to_numpy()[pred],
                                    frame["ra"].to_numpy(np.float64)[det],
                                    frame["dec"].to_numpy(np.float64)[det])
    names = sorted(set(predicted["object_id"].to_numpy()[pred[separation < radius]]) - taken)
    best = None
    for name in names:
        row = states.loc[name]
        state0 = row[list(CART_COLUMNS)].to_numpy(np.float64)
        res = residuals(state0, float(row["epoch_mjd_tdb"]), obs, "nbody")
        worst = float(np.nanmax(np.hypot(res[:, 0], res[:, 1])))
        if not worst < radius or (best is not None and worst >= best[0]):
            continue
        fit, fitted = _fit_detections(frame, state0, float(row["epoch_mjd_tdb"]), settings)
        if fit.status == "ok" and fit.used.all():
            best = (worst, name, fit, fitted["night"].to_numpy())
    return None if best is None else best[1:]


def _catalogue_candidates(unassociated: pd.DataFrame, orbits: pd.DataFrame,
                          tracked: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The catalogue objects predicted in tonight's exposures but not associated (the
    association's ``unassociated_ssobjects``), tracked ones aside: their predictions
    (``object_id, midpointMjdTai, ephRa, ephDec``) and their heliocentric ICRF states, by
    ``object_id``."""
    predicted = unassociated[~unassociated["object_id"].isin(set(tracked["object_id"]))]
    wanted = orbits[orbits["object_id"].isin(set(predicted["object_id"]))]
    # (The discoveries predicted tonight are not the catalogue's.)
    predicted = predicted[predicted["object_id"].isin(set(wanted["object_id"]))]
    predicted = predicted[["object_id", "midpointMjdTai", "ephRa", "ephDec"]].reset_index(
        drop=True)
    return predicted, _equatorial_rows(wanted, None).set_index("object_id")


def _equatorial_rows(orbits: pd.DataFrame, covariance) -> pd.DataFrame:
    """DISCOVERED rows (``discovered_night`` -1) of an orbit table: heliocentric ICRF states
    and ``covariance`` rotated from the ecliptic one given (n × 36 values, NaN when None)."""
    ecliptic = _catalogue_states(orbits)
    states = ecliptic[list(CART_COLUMNS)].to_numpy(np.float64)
    rows = pd.DataFrame({"object_id": ecliptic["object_id"].astype(str).to_numpy(),
                         "discovered_night": -1})
    if len(states):
        states = ecliptic_to_equatorial(states)
    for k, name in enumerate(CART_COLUMNS):
        rows[name] = states[:, k] if len(states) else np.empty(0)
    rows["epoch_mjd_tdb"] = ecliptic["epoch_mjd_tdb"].to_numpy(np.float64)
    rows["H"] = ecliptic["H"].to_numpy(np.float64)
    rotation = np.kron(np.eye(2), ECLIPTIC_TO_EQUATORIAL)
    values = np.full((len(rows), 36), np.nan) if covariance is None else np.asarray(
        [np.asarray(c, np.float64) for c in covariance]).reshape(-1, 36)
    rows["covariance"] = list(np.einsum("ij,njk,lk->nil", rotation, values.reshape(-1, 6, 6),
                                        rotation).reshape(-1, 36))
    return rows.astype(DISCOVERED.dtypes)


def _improve_priors(improve: pd.DataFrame | None) -> dict:
    """``object_id`` → :func:`linking.prior_information` (heliocentric ICRF) of each orbit to
    improve that comes with a covariance; the table checked before any work (InputError
    naming the row)."""
    if improve is None:
        return {}
    if not isinstance(improve, pd.DataFrame):
        raise InputError("improve must be an orbit table (linking.read_fitted_orbits)")
    validate_orbits(improve, "improve")
    duplicated = improve["object_id"].duplicated()
    if duplicated.any():
        raise InputError(f"improve: object_id {improve['object_id'][duplicated].iat[0]!r} "
                         "has more than one orbit")
    covariance = improve["covariance"] if "covariance" in improve.columns else None
    rows = _equatorial_rows(improve, covariance)
    priors = {}
    for k, row in enumerate(rows.itertuples(index=False)):
        values = np.asarray(row.covariance, np.float64)
        if np.isnan(values).all():
            continue
        if improve["format"].iat[k] != "CART":
            raise InputError(f"improve, row {k} ({row.object_id}): a covariance belongs to a "
                             f"CART orbit, not {improve['format'].iat[k]}")
        try:
            priors[row.object_id] = prior_information(
                np.array([getattr(row, c) for c in CART_COLUMNS]), values)
        except InputError as error:
            raise InputError(f"improve, row {k} ({row.object_id}): {error}") from None
    return priors


def _tracked_objects(orbits: pd.DataFrame, improve: pd.DataFrame | None,
                     identified: pd.DataFrame, discovered: pd.DataFrame) -> pd.DataFrame:
    """DISCOVERED rows (``discovered_night`` -1) of the catalogue objects the survey refits:
    the orbits to improve (with their covariance) and the catalogue objects identified with
    new objects on earlier nights (their catalogue orbit; their refits are orbit updates)."""
    discoveries = set(discovered["object_id"])
    parts = []
    if improve is not None:
        given = improve[~improve["object_id"].isin(discoveries)]
        parts.append(_equatorial_rows(
            given, given["covariance"] if "covariance" in given.columns else None))
        discoveries |= set(improve["object_id"])
    found = set(identified["identified_as"]) - discoveries
    parts.append(_equatorial_rows(orbits[orbits["object_id"].isin(found)], None))
    return pd.concat(parts, ignore_index=True).astype(DISCOVERED.dtypes)


def _refit_orbits(state: Path, night: int, discovered: pd.DataFrame, claimed: pd.DataFrame,
                  attributed: pd.DataFrame, tonight: pd.DataFrame,
                  settings: "NightSettings", priors: dict) -> pd.DataFrame:
    """ORBIT_UPDATES rows of the discoveries (and tracked objects) with detections tonight:
    each refitted (N-body, from its current orbit, at its epoch) to its discovery detections
    and every detection attributed to it since, jointly with its prior orbit where it has one
    (``priors``; without one, on three nights or more); kept when the fit is ``ok``, else the
    orbit stays as it was. Returns those rows and the ``diaSourceId`` of tonight's detections
    that an ``ok`` refit rejected (withdrawn: they are not the object's)."""
    objects = sorted(set(tonight["object_id"]))
    if not objects:
        return _empty(ORBIT_UPDATES), set()
    # The observer positions of all the objects' detections at once (one call per site).
    prepared, every_obs = _observations(
        _object_detections(state, objects, claimed, attributed, tonight), settings)
    by_name = discovered.set_index("object_id")
    rows, withdrawn = [], set()
    for name in objects:
        current = by_name.loc[name]
        mine = (prepared["object_id"] == name).to_numpy()
        prior = priors.get(name)
        if prior is None and np.unique(prepared["night"].to_numpy()[mine]).size \
                < settings.link.fit.min_nights:
            continue
        fit = fit_orbit(every_obs.subset(mine), current[list(CART_COLUMNS)].to_numpy(np.float64),
                        float(current["epoch_mjd_tdb"]), settings.link.fit, method="nbody",
                        prior=prior)
        if fit.status == "ok":
            rows.append(_update_row(name, night, fit, prepared["night"].to_numpy()[mine]))
            rejected = prepared["diaSourceId"].to_numpy()[mine][~fit.used]
            withdrawn |= set(rejected.tolist()) & set(tonight["diaSourceId"])
    table = pd.DataFrame(rows, columns=list(ORBIT_UPDATES.dtypes))
    return table.astype(ORBIT_UPDATES.dtypes), withdrawn


def _withdraw(result, withdrawn: set, night_dir: Path):
    """The association ``result`` without the associations of the ``withdrawn`` DIASources
    (``ssObjectId`` null again, their SSSource rows gone), its night tables rewritten."""
    diasources = result.diasources.copy()
    diasources.loc[diasources["diaSourceId"].isin(withdrawn), "ssObjectId"] = pd.NA
    sssources = result.sssources[~result.sssources["diaSourceId"].isin(withdrawn)].reset_index(
        drop=True)
    write_table_atomic(diasources, night_dir / "diasources.parquet")
    write_table_atomic(sssources, night_dir / "sssources.parquet")
    return replace(result, diasources=diasources, sssources=sssources)


def _fit_detections(frame: pd.DataFrame, state0, epoch: float, settings: "NightSettings",
                   prior=None):
    """The N-body fit (:func:`linking.fit_orbit`, the linking's fit settings; ``prior`` at
    ``epoch`` if any) of one object's detections from ``state0`` at ``epoch``; returns (fit,
    the prepared detections)."""
    prepared, obs = _observations(frame, settings)
    fit = fit_orbit(obs, np.asarray(state0, np.float64), float(epoch), settings.link.fit,
                    method="nbody", prior=prior)
    return fit, prepared


def _observations(frame: pd.DataFrame, settings: "NightSettings"):
    """Detections prepared (observer positions, nights; :func:`linking.prepare_detections`)
    and as :class:`linking.Observations` weighted as the linking's fits weight them."""
    prepared = prepare_detections(frame, settings.observatory_code)
    sigma = astrometric_sigma_arcsec(prepared, settings.link.fit.default_sigma_arcsec)
    return prepared, Observations(
        prepared["midpointMjdTai"], prepared["ra"], prepared["dec"], sigma,
        prepared[["observer_x_au", "observer_y_au", "observer_z_au"]].to_numpy(),
        prepared["night"].to_numpy())


def _update_row(name: str, night: int, fit, nights: np.ndarray) -> dict:
    return {"object_id": name, "night": night,
            **dict(zip(CART_COLUMNS, fit.state, strict=True)),
            "epoch_mjd_tdb": fit.epoch_mjd_tdb, "covariance": fit.covariance.reshape(-1),
            "n_detections": int(fit.used.sum()),
            "n_nights": int(np.unique(nights[fit.used]).size), "rms_arcsec": fit.rms_arcsec}


def _distances2(state0, covariance, epoch: float, obs: Observations) -> np.ndarray:
    """Squared Mahalanobis distance of each observation from the orbit's N-body prediction,
    the prediction's covariance and the observation's σ combined (2 degrees of freedom)."""
    res = residuals(state0, epoch, obs, "nbody")
    total = sky_covariance(state0, np.asarray(covariance, np.float64).reshape(6, 6), epoch,
                           obs) + (obs.sigma**2)[:, None, None] * np.eye(2)
    with np.errstate(invalid="ignore"):
        return np.einsum("ni,ni->n", res, np.linalg.solve(total, res[..., None])[..., 0])


def _precover(state: Path, night: int, linkages: pd.DataFrame, members: pd.DataFrame,
              taken: set, settings: "NightSettings") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Precovery of tonight's new objects: every unassociated detection of the state's nights
    (window files, the window's and older) not taken by an object is compared with each new
    orbit's prediction; those within ``PRECOVERY_SIGMAS`` of it (the orbit's predicted
    uncertainty and the detection's own, combined) join a refit, and the ones the refit keeps
    (status ``ok``) are attributed. Returns ATTRIBUTED rows and ORBIT_UPDATES rows (the
    refitted orbits), both of this night."""
    if len(linkages) == 0:
        return _empty(ATTRIBUTED), _empty(ORBIT_UPDATES)
    parts = [pd.read_parquet(path) for path in sorted((state / "window").glob("night=*.parquet"))
             if int(path.stem.split("=", 1)[1]) <= night]
    pool = pd.concat(parts, ignore_index=True)
    found = pool[pool["diaSourceId"].isin(set(members["diaSourceId"]))]
    pool = pool[~pool["diaSourceId"].isin(taken)]
    if len(pool) == 0:
        return _empty(ATTRIBUTED), _empty(ORBIT_UPDATES)
    prepared, obs = _observations(pool, settings)
    free = np.ones(len(prepared), dtype=bool)
    attributed, updates = [], []
    for row in linkages.sort_values("designation").itertuples(index=False):
        state0 = np.array([getattr(row, c) for c in CART_COLUMNS])
        d2 = _distances2(state0, row.covariance, row.epoch_mjd_tdb, obs)
        near = np.flatnonzero(free & (d2 < PRECOVERY_SIGMAS**2))
        if near.size == 0:
            continue
        linked = members.loc[members["designation"] == row.designation, "diaSourceId"]
        frame = pd.concat([found[found["diaSourceId"].isin(set(linked))],
                           prepared.iloc[near][pool.columns]], ignore_index=True)
        fit, fitted = _fit_detections(frame, state0, row.epoch_mjd_tdb, settings)
        kept = set(fitted.loc[fit.used, "diaSourceId"]) & set(prepared["diaSourceId"].iloc[near])
        if fit.status != "ok" or not kept:
            continue
        taken_now = prepared["diaSourceId"].isin(kept).to_numpy()
        free &= ~taken_now
        attributed.append(_attributed_rows(prepared[taken_now], row.designation, night))
        updates.append(_update_row(row.designation, night, fit, fitted["night"].to_numpy()))
    attributed = (pd.concat(attributed, ignore_index=True) if attributed
                  else _empty(ATTRIBUTED)).astype(ATTRIBUTED.dtypes)
    return (attributed.sort_values("diaSourceId", ignore_index=True),
            pd.DataFrame(updates, columns=list(ORBIT_UPDATES.dtypes)).astype(
                ORBIT_UPDATES.dtypes))


def _write_reports(night_dir: Path, window: pd.DataFrame, members: pd.DataFrame,
                   joined: pd.DataFrame, pairs: pd.DataFrame, settings: "NightSettings") -> None:
    """``astrometry.mpc`` and ``astrometry.psv`` of the night: what to submit. Identified
    objects' detections go under the designation of the object they joined (under the new
    object's temporary one where that name is not an MPC designation, e.g. a simulation's
    identifier), without discovery mark. The linking job's own reports (``link/``) keep the
    temporary designations of identified objects."""
    members = members.reindex(columns=["linkage_id", "designation", "diaSourceId"])
    temporary = pd.Series(pairs["object_id"].to_numpy(), index=pairs["identified_as"].to_numpy())
    names = [name if reportable_designation(name) else temporary[name]
             for name in joined["object_id"]]
    follow_up = pd.DataFrame({
        "linkage_id": -1 - pd.factorize(joined["object_id"])[0],
        "designation": names,
        "diaSourceId": joined["diaSourceId"].to_numpy(np.int64)})
    everything = pd.concat([members, follow_up], ignore_index=True)
    astrometry = linked_astrometry(window, everything, settings.observatory_code)
    # Observations of an object known before tonight carry no discovery mark.
    astrometry.loc[astrometry["designation"].isin(set(names)), "discovery"] = False
    write_text_atomic(format_mpc80(astrometry), night_dir / "astrometry.mpc")
    write_text_atomic(format_ades_psv(astrometry, **settings.ades_header),
                      night_dir / "astrometry.psv")


def _record_updates(state: Path, night: int, attributed: pd.DataFrame,
                    updates: pd.DataFrame, identified: pd.DataFrame) -> None:
    """Replace the night's rows of ``attributed.parquet``, ``orbit_updates.parquet`` and
    ``identified.parquet``."""
    for name, schema, rows, order in (
            ("attributed.parquet", ATTRIBUTED, attributed, ["night", "diaSourceId"]),
            ("orbit_updates.parquet", ORBIT_UPDATES, updates, ["night", "object_id"]),
            ("identified.parquet", IDENTIFIED, identified, ["night", "object_id"])):
        table = _read_state(state / name, schema)
        table = pd.concat([table[table["night"] != night], rows.astype(schema.dtypes)],
                          ignore_index=True)
        write_table_atomic(table.sort_values(order, ignore_index=True), state / name)


def _discovered_orbits(discovered: pd.DataFrame, catalogue: pd.DataFrame) -> pd.DataFrame:
    """The state's discoveries and tracked objects as an orbit table (CART, heliocentric
    ecliptic J2000); a catalogue object keeps its catalogue ``ssObjectId``."""
    states = discovered[list(CART_COLUMNS)].to_numpy(np.float64).reshape(-1, 3)
    ecliptic = equatorial_to_ecliptic(states).reshape(-1, 6) if len(discovered) \
        else np.empty((0, 6))
    ids = discovered["object_id"].astype(str).to_numpy()
    known = catalogue[catalogue["object_id"].isin(set(ids))].drop_duplicates("object_id")
    given = dict(zip(known["object_id"], known["ssObjectId"], strict=True))
    ss_ids = np.array([given.get(name, own) for name, own in zip(ids, ss_object_ids(ids),
                                                                  strict=True)], dtype=np.int64)
    table = pd.DataFrame({"object_id": ids, "ssObjectId": ss_ids, "format": "CART"})
    for k, name in enumerate(CART_COLUMNS):
        table[name] = ecliptic[:, k]
    table["epoch_mjd_tdb"] = discovered["epoch_mjd_tdb"].to_numpy(np.float64)
    table["H"] = discovered["H"].to_numpy(np.float64)
    table["G"] = DEFAULT_G
    return table


def _uncertainties(discovered: pd.DataFrame, orbits: pd.DataFrame, mjd_tai: float,
                   observatory_code: str) -> dict:
    """``ssObjectId`` → position uncertainty (arcsec) of each discovery at ``mjd_tai``:
    ``DISCOVERY_SIGMAS`` × the major axis of its predicted covariance, capped."""
    if len(discovered) == 0:
        return {}
    major = position_uncertainty_arcsec(discovered, mjd_tai, observatory_code)
    value = np.where(np.isfinite(major), DISCOVERY_SIGMAS * major, np.inf)
    return {int(ss_id): float(min(v, MAX_DISCOVERY_UNCERTAINTY_ARCSEC))
            for ss_id, v in zip(orbits["ssObjectId"], value, strict=True)}


def position_uncertainty_arcsec(orbits: pd.DataFrame, mjd_tai: float,
                                observatory_code: str) -> np.ndarray:
    """1σ major axis (arcsec) of the predicted sky position of each orbit of a state table
    (``x_au … vz_au_per_day``, ``epoch_mjd_tdb``, ``covariance``) at ``mjd_tai`` from the
    observatory: the state's covariance mapped linearly
    (:func:`linking.orbitfit.sky_covariance`)."""
    tdb = mjd_tai + TT_MINUS_TAI_DAYS
    observer = observer_states(observatory_code, [tdb], origin="sun")[:, :3]
    at = Observations([mjd_tai], [0.0], [0.0], [1.0], observer, [0])
    out = np.empty(len(orbits))
    for k, row in enumerate(orbits.itertuples(index=False)):
        state = np.array([getattr(row, name) for name in CART_COLUMNS])
        covariance = np.asarray(row.covariance, np.float64).reshape(6, 6)
        sky = sky_covariance(state, covariance, row.epoch_mjd_tdb, at)[0]
        out[k] = np.sqrt(max(np.linalg.eigvalsh(sky).max(), 0.0)) \
            if np.isfinite(sky).all() else np.nan
    return out


def _summary_text(report: dict, timings: dict) -> str:
    lines = [
        f"Night of {report['date']} (MJD {report['night_mjd']})",
        f"  visits                          {report['n_visits']:>8}",
        f"  DIASources                      {report['n_diasources']:>8}",
        f"  associated with known objects   {report['n_associated']:>8}"
        f"  ({report['n_associated_with_earlier_discoveries']} with this survey's discoveries)",
        f"  discoveries' orbits refitted    {report['n_orbits_updated']:>8}",
        f"  known objects predicted, unseen {report['n_known_predicted_not_seen']:>8}",
        f"  window: nights, detections      {report['n_window_nights']:>8} "
        f"{report['n_window_detections']:>8}",
        f"  new objects                     {report['n_new_objects']:>8}"
        f"  ({len(report['identified'])} more identified with known objects)",
        "  time per stage (s)              " + ", ".join(
            f"{k} {v:.1f}" for k, v in timings.items()),
    ]
    return "\n".join(lines) + "\n"
