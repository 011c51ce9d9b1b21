"""The ``sso link`` job: tracklets → HelioLinC3D search → orbit fits, on disk and resumable.

Each stage writes its tables into the output folder (atomically: a table is either complete or
absent), then records in ``stages.json`` a fingerprint of everything it used — the detections
(SHA-256 of the table sorted by ``diaSourceId``), the settings of :class:`linking.LinkingConfig`
that affect it, the hypotheses. A later run with the same fingerprint loads the stage's tables
instead of recomputing them; a changed input recomputes that stage and those after it. So a job
stopped after a stage (``stop_after``) or killed mid-way resumes where it was, and a finished
job run again leaves its results byte for byte (only timings.json is rewritten).

Output folder
-------------
=============================  =================================================================
``tracklets.parquet``          :attr:`linking.Tracklets.tracklets` (stage ``tracklets``)
``tracklet_members.parquet``   ``tracklet_id, diaSourceId``
``candidates.parquet``         :attr:`linking.Candidates.linkages` (stage ``search``)
``candidate_members.parquet``  ``linkage_id, diaSourceId``
``linkages.parquet``           :attr:`linking.LinkResult.linkages` plus ``designation`` (stage
                               ``fit``)
``members.parquet``            ``linkage_id, designation, diaSourceId`` and the residuals
``unlinked.parquet``           the detections in no linkage
``orbits.csv``                 the fitted orbits in Sorcha's ``CART`` format (heliocentric ecliptic
                               J2000, AU, AU/day, ``epochMJD_TDB``, ``H``, ``G``), readable by
                               :func:`ephemerides.read_orbits` for the next night's association
``astrometry.mpc``             the linked detections in the MPC 80-column format (UTC)
``astrometry.psv``             the same in ADES PSV (UTC, uncertainties from raErr/decErr)
``summary.json``               counts per stage (identical when the job is run again)
``timings.json``               seconds per stage and whether it was reused (differs run to run)
``stages.json``                the fingerprints of the finished stages
=============================  =================================================================

New objects get temporary designations (:func:`linking.mpc_formats.temporary_designation`):
``prefix``, the year and half-month of the first detection (UTC) and the linkage id in base 62.
"""

import dataclasses
import hashlib
import json
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from ephemerides.elements import equatorial_to_ecliptic
from ephemerides.errors import InputError
from ephemerides.orbits import DEFAULT_G
from ephemerides.photometry import ab_magnitude
from ephemerides.progress import Progress, message
from ephemerides.provenance import recorded
from ephemerides.timescales import convert_mjd
from linking import (
    Candidates,
    FitConfig,
    LinkingConfig,
    TrackletConfig,
    Tracklets,
    load_hypotheses,
    load_trail_hypotheses,
    make_tracklets,
    prepare_detections,
    purify,
    search_tracklets,
)
from linking.heliolinc import STATE_COLUMNS
from linking.mpc_formats import (
    ades_context,
    format_ades_psv,
    format_mpc80,
    temporary_designation,
)
from sso.executors import SerialExecutor
from sso.io import check_output_folder, write_table_atomic, write_text_atomic

STAGES = ("tracklets", "search", "fit")
STAGE_FILES = {
    "tracklets": ("tracklets.parquet", "tracklet_members.parquet"),
    "search": ("candidates.parquet", "candidate_members.parquet"),
    "fit": ("linkages.parquet", "members.parquet", "unlinked.parquet", "orbits.csv",
            "astrometry.mpc", "astrometry.psv", "summary.json"),
}
SORCHA_CART = ("x", "y", "z", "xdot", "ydot", "zdot")


def read_link_config(path) -> LinkingConfig:
    """A :class:`linking.LinkingConfig` from a TOML file.

    Top-level keys are :class:`~linking.LinkingConfig` fields; the tables ``[tracklets]`` and
    ``[fit]`` hold :class:`~linking.TrackletConfig` and :class:`~linking.FitConfig` fields.
    Settings not given keep their defaults; an unknown one is an error naming it.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"linking settings {path}: not valid TOML ({err})") from None
    parts = {}
    for table, cls in (("tracklets", TrackletConfig), ("fit", FitConfig)):
        values = data.pop(table, {})
        if not isinstance(values, dict):
            raise InputError(f"linking settings {path}: '{table}' must be a table [{table}]")
        parts[table] = cls(**_known(values, cls, path, f"[{table}] "))
    config = LinkingConfig(**_known(data, LinkingConfig, path, ""), **parts)
    try:
        config.validate()
    except (TypeError, ValueError) as err:
        raise InputError(f"linking settings {path}: {err}") from None
    return config


def _known(values: dict, cls, path: Path, where: str) -> dict:
    """``values`` after checking each names a setting of ``cls`` and has its default's kind
    (a number where the default is one or None, an integer, a flag, text)."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in ("tracklets", "fit")}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise InputError(f"linking settings {path}: unknown setting {where}{unknown[0]!r}; "
                         f"allowed: {', '.join(fields)}")
    for name, value in values.items():
        default = fields[name].default
        if isinstance(default, bool):
            ok, kind = isinstance(value, bool), "true or false"
        elif isinstance(default, int):
            ok, kind = isinstance(value, int) and not isinstance(value, bool), "an integer"
        elif isinstance(default, str):
            ok, kind = isinstance(value, str), "text in quotes"
        else:  # a float, or None for "derived from the data"
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            kind = "a number"
        if not ok:
            raise InputError(f"linking settings {path}: {where}{name} = {value!r} must be {kind}")
    return values


def _digest(*parts) -> str:
    """SHA-256 (16 hex digits) of tables (values and column names) and reprs of settings."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, pd.DataFrame):
            digest.update(",".join(map(str, part.columns)).encode())
            digest.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
        else:
            digest.update(repr(part).encode())
    return digest.hexdigest()[:16]


class _Stages:
    """The ``stages.json`` record of finished stages and their fingerprints."""

    def __init__(self, out: Path):
        self.path = out / "stages.json"
        self.out = out
        self.done = json.loads(self.path.read_text()) if self.path.is_file() else {}

    def reusable(self, stage: str, fingerprint: str) -> bool:
        return (self.done.get(stage) == fingerprint
                and all((self.out / name).is_file() for name in STAGE_FILES[stage]))

    def finish(self, stage: str, fingerprint: str) -> None:
        later = STAGES[STAGES.index(stage) + 1:]
        self.done = {k: v for k, v in self.done.items() if k not in later}
        self.done[stage] = fingerprint
        write_text_atomic(json.dumps(self.done, indent=2, sort_keys=True) + "\n", self.path)


@recorded(settings=("config", "observatory_code", "designation_prefix", "designation_start",
                    "ades_header"), inputs=("detections",))
def run_link_job(detections: pd.DataFrame, out, config: LinkingConfig | None = None, *,
                 observatory_code: str = "X05", stop_after: str = "fit",
                 designation_prefix: str = "S", designation_start: int = 0,
                 ades_header: dict | None = None, progress: Progress | None = None,
                 executor=None) -> dict:
    """Run (or resume) the linking job on ``detections`` into the folder ``out``.

    Parameters
    ----------
    detections : pandas.DataFrame
        DiaSource-style table (:func:`linking.prepare_detections`).
    out : str or Path
        Output folder, created if missing (layout in the module docstring).
    config : LinkingConfig, optional
        ``LinkingConfig()`` when omitted; ``config.hypotheses`` names the grid or file.
    observatory_code : str
        MPC code of the site for rows without ``observatoryCode``.
    stop_after : {"tracklets", "search", "fit"}
        Last stage to run.
    designation_prefix : str
        First character of the temporary designations.
    designation_start : int
        Sequence number of the first new object (linkage k gets ``designation_start + k``), so
        that successive jobs (nights) give distinct designations.
    ades_header : dict, optional
        ``submitter``, ``observers``, ``measurers`` and ``telescope`` of the ADES report
        (:func:`linking.mpc_formats.format_ades_psv`; the MPC needs them on a submission).
    progress : callable, optional
        Receives progress reports (:mod:`ephemerides.progress`): the search's and the fits'
        counts, and a message per stage with its result. None: silent.
    executor : optional
        Where the search's hypotheses run, in work units (:func:`sso.executors.make_executor`;
        see :func:`linking.search_tracklets`). None or the serial executor: threads of this
        process (``config.threads``), not one unit after another. The results, and
        so the search stage's fingerprint, do not depend on it: a job resumed with another
        executor reuses the stages done.

    Returns
    -------
    dict
        The content of ``summary.json`` so far, with ``timings`` added.
    """
    if stop_after not in STAGES:
        raise InputError(f"stop_after must be one of {', '.join(STAGES)}; got {stop_after!r}")
    config = LinkingConfig() if config is None else config
    config.validate()
    temporary_designation(0.0, designation_start, designation_prefix)  # checked before any work
    out = check_output_folder(out)
    frame = prepare_detections(detections, observatory_code=observatory_code)
    hypotheses = load_hypotheses(config.hypotheses)
    # The reports' header, checked now rather than after the work.
    ades_context(sorted(set(_astrometry_codes(frame, observatory_code))),
                 **dict(ades_header or {}))
    out.mkdir(parents=True, exist_ok=True)
    stages = _Stages(out)
    summary = {"n_detections": len(frame)}
    timings = {}

    def say(text: str) -> None:
        message(progress, "link", text)

    # Stage 1: tracklets.
    t0 = time.perf_counter()
    key = _digest(frame.sort_values("diaSourceId", ignore_index=True)[
        ["diaSourceId", "midpointMjdTai", "ra", "dec", "observer_x_au", "observer_y_au",
         "observer_z_au"]], config.tracklets)
    reused = stages.reusable("tracklets", key)
    if reused:
        tracklets = Tracklets(pd.read_parquet(out / "tracklets.parquet"),
                              pd.read_parquet(out / "tracklet_members.parquet"))
    else:
        tracklets = make_tracklets(frame, config.tracklets, observatory_code)
        write_table_atomic(tracklets.tracklets, out / "tracklets.parquet")
        write_table_atomic(tracklets.members, out / "tracklet_members.parquet")
        stages.finish("tracklets", key)
    timings["tracklets"] = _timing(t0, reused)
    summary["n_tracklets"] = len(tracklets.tracklets)
    say(f"tracklets: {len(tracklets.tracklets)} from {len(frame)} detections"
        f"{' (reused)' if reused else ''}")
    if stop_after == "tracklets":
        return _finish(out, summary, timings, final=False)

    # Stage 2: the HelioLinC3D search.
    t0 = time.perf_counter()
    search_settings = dataclasses.replace(config, fit=FitConfig(), threads=None)
    trail_hypotheses = load_trail_hypotheses(tracklets, config)
    key = _digest(key, hypotheses, trail_hypotheses, search_settings)
    reused = stages.reusable("search", key)
    if reused:
        candidates = Candidates(pd.read_parquet(out / "candidates.parquet"),
                                pd.read_parquet(out / "candidate_members.parquet"))
    else:
        candidates = search_tracklets(
            tracklets, hypotheses, config, trail_hypotheses=trail_hypotheses, progress=progress,
            executor=None if isinstance(executor, SerialExecutor) else executor)
        write_table_atomic(candidates.linkages, out / "candidates.parquet")
        write_table_atomic(candidates.members, out / "candidate_members.parquet")
        stages.finish("search", key)
    timings["search"] = _timing(t0, reused)
    n_hypotheses = len(hypotheses) + (0 if trail_hypotheses is None else len(trail_hypotheses))
    summary.update(n_hypotheses=n_hypotheses, n_candidates=len(candidates.linkages))
    say(f"search: {len(candidates.linkages)} candidates under {n_hypotheses} hypotheses"
        f"{' (reused)' if reused else ''}")
    if stop_after == "search":
        return _finish(out, summary, timings, final=False)

    # Stage 3: orbit fits, purification, reports.
    t0 = time.perf_counter()
    ades_header = dict(ades_header or {})
    key = _digest(key, config.fit, designation_prefix, designation_start,
                  sorted(ades_header.items()))
    reused = stages.reusable("fit", key)
    if reused:
        summary = json.loads((out / "summary.json").read_text())
    else:
        result = purify(frame, candidates, config, progress=progress)
        summary.update(_write_results(out, frame, result, observatory_code, designation_prefix,
                                      designation_start, ades_header))
        write_text_atomic(json.dumps(summary, indent=2, sort_keys=True) + "\n",
                          out / "summary.json")
        stages.finish("fit", key)
    timings["fit"] = _timing(t0, reused)
    say(f"fit: {summary['n_linkages']} linkages of {summary['n_linked_detections']} detections"
        f"{' (reused)' if reused else ''}; wrote {out}")
    return _finish(out, summary, timings, final=True)


def _timing(t0: float, reused: bool) -> dict:
    return {"seconds": round(time.perf_counter() - t0, 3), "reused": reused}


def _finish(out: Path, summary: dict, timings: dict, final: bool) -> dict:
    write_text_atomic(json.dumps(timings, indent=2) + "\n", out / "timings.json")
    return {**summary, "timings": timings, "complete": final}


def _write_results(out: Path, frame: pd.DataFrame, result, observatory_code: str,
                   prefix: str, start: int, ades_header: dict) -> dict:
    """Write the fit stage's tables and reports; return their counts."""
    linkages, members = result.linkages.copy(), result.members
    times = members["diaSourceId"].map(frame.set_index("diaSourceId")["midpointMjdTai"])
    first_utc = (convert_mjd(times.groupby(members["linkage_id"]).min().to_numpy(np.float64),
                             "tai", "utc") if len(members) else np.empty(0))
    linkages.insert(1, "designation", pd.array([
        temporary_designation(t, start + int(k), prefix)
        for t, k in zip(first_utc, linkages["linkage_id"], strict=True)], dtype="str"))
    designation = linkages.set_index("linkage_id")["designation"]
    # Typed even when empty: a night without new objects reads back like the others.
    members = members.assign(
        designation=members["linkage_id"].map(designation).astype("str"))
    members = members[["linkage_id", "designation", "diaSourceId", "residual_ra_arcsec",
                       "residual_dec_arcsec"]]
    write_table_atomic(linkages, out / "linkages.parquet")
    write_table_atomic(members, out / "members.parquet")
    write_table_atomic(result.unlinked, out / "unlinked.parquet")
    write_table_atomic(_sorcha_orbits(linkages), out / "orbits.csv")
    astrometry = linked_astrometry(frame, members, observatory_code)
    write_text_atomic(format_mpc80(astrometry), out / "astrometry.mpc")
    write_text_atomic(format_ades_psv(astrometry, **ades_header), out / "astrometry.psv")
    return {"n_linkages": len(linkages), "n_linked_detections": len(members),
            "n_unlinked": len(result.unlinked)}


def _sorcha_orbits(linkages: pd.DataFrame) -> pd.DataFrame:
    """The fitted states as a Sorcha CART orbit table (heliocentric ecliptic J2000)."""
    states = linkages[list(STATE_COLUMNS)].to_numpy(np.float64).reshape(-1, 2, 3)
    ecliptic = equatorial_to_ecliptic(states.reshape(-1, 3)).reshape(-1, 6) if len(states) \
        else np.empty((0, 6))
    table = pd.DataFrame({"ObjID": linkages["designation"].to_numpy(), "FORMAT": "CART"})
    for k, name in enumerate(SORCHA_CART):
        table[name] = ecliptic[:, k]
    table["epochMJD_TDB"] = linkages["epoch_mjd_tdb"].to_numpy()
    table["H"] = linkages["H"].to_numpy()
    table["G"] = DEFAULT_G
    return table


def _astrometry_codes(rows: pd.DataFrame, observatory_code: str):
    """Observatory code of each detection as its reports give it: the row's ``observatoryCode``
    when the table has one, else ``observatory_code``."""
    if "observatoryCode" in rows:
        return rows["observatoryCode"].to_numpy()
    return np.full(len(rows), observatory_code, dtype=object)


def linked_astrometry(frame: pd.DataFrame, members: pd.DataFrame, observatory_code: str):
    """The linked detections (``members``: ``linkage_id, designation, diaSourceId``; their
    rows in ``frame``) in time order per linkage, as the MPC/ADES writers take them; the
    first of each linkage is its discovery observation."""
    rows = frame.set_index("diaSourceId").loc[members["diaSourceId"].to_numpy()]
    table = pd.DataFrame({
        "designation": members["designation"].to_numpy(),
        "midpointMjdTai": rows["midpointMjdTai"].to_numpy(),
        "ra": rows["ra"].to_numpy(), "dec": rows["dec"].to_numpy(),
        "observatoryCode": _astrometry_codes(rows, observatory_code),
        "linkage_id": members["linkage_id"].to_numpy(),
    })
    for column in ("raErr", "decErr", "band"):
        if column in rows:
            table[column] = rows[column].to_numpy()
    if "mag" in rows:
        table["mag"] = rows["mag"].to_numpy(np.float64)
    elif "psfFlux" in rows:
        table["mag"] = ab_magnitude(rows["psfFlux"].to_numpy(np.float64))
    table = table.sort_values(["linkage_id", "midpointMjdTai"], ignore_index=True)
    table["discovery"] = ~table["linkage_id"].duplicated()
    return table.drop(columns="linkage_id")
