"""The ``sso`` command line: ``sso <verb> [options]``.

Verbs:
- ``ephemeris``: predict topocentric positions of the orbits in a catalogue at given times.
- ``simulate``: DIASources, truth and visits of a population seen through a survey cadence.
- ``associate``: attach DIASources (one night, or several: a cache each) to the known objects
  predicted in their visits.
- ``link``: link detections into new objects with orbits, MPC and ADES reports.
- ``night``: one night of a survey: association, the rolling window, linking, new orbits.
- ``orbits fetch``: download and validate the MPC orbit catalogue, atomically.
- ``orbit fit`` (or ``orbits fit``): one orbit per object from MPC 80-column or ADES astrometry.
- ``demo``: a simulated fortnight of a survey through ``sso night``, scored against the truth.
- ``info``: what made a Parquet file the toolkit wrote (its provenance).

Every Parquet file a verb writes carries the run's provenance (:mod:`ephemerides.provenance`):
the verb, the settings that determine the result, the input files' fingerprints, the kernels
and the versions.

Heavy modules are imported inside each verb so that ``sso --help`` is instant. Bad input
(:class:`ephemerides.errors.InputError`, or a file that cannot be read or written) ends with one
line on stderr naming the problem and exit status 2; nothing is written. Anything else is a
defect: one line "internal error" and exit status 1 (the traceback with ``-v``).
"""

import argparse
import logging
import sys
import traceback
from dataclasses import replace

EXIT_BAD_INPUT = 2
EXIT_INTERNAL_ERROR = 1
# Guards of `sso ephemeris` against a mistyped range (61000:71000:0.001 is 10^7 times): 10^6
# times, and 10^7 rows (~1.5 GB of table), unless raised on the command line.
MAX_TIMES = 1_000_000
MAX_ROWS = 10_000_000
# Options that name input files or folders (fingerprinted in the outputs' provenance), and
# options that change neither the result nor the files' content (where the outputs go, how
# the work is spread, where a resumable job stops, whether a state may be rolled back, the
# log), left out of the recorded settings.
INPUT_OPTIONS = ("orbits", "cache", "visits", "diasources", "cutouts", "detector_corners",
                 "hypotheses", "config", "detections", "observations")
NOT_SETTINGS = ("out", "state_dir", "residuals", "executor", "workers", "scheduler",
                "stop_after", "rewind", "verbose", "func", "verb", "orbits_verb")


def _observatory_code(text: str) -> str:
    """An MPC observatory code as the MPC writes it (upper case: 'x05' is X05)."""
    return text.strip().upper()


def _bad_input(message: str) -> Exception:
    """:class:`ephemerides.errors.InputError` of ``message``, imported when needed so that
    ``sso --help`` does not load the packages."""
    from ephemerides.errors import InputError

    return InputError(message)


def _parse_times(values: list[str], max_times: int):
    """MJD floats, ISO dates/date-times, or ``start:stop:step`` MJD ranges (stop inclusive);
    at most ``max_times`` of them, counted before any is made."""
    import numpy as np
    from astropy.time import Time

    from ephemerides.timescales import quiet_erfa

    mjd = []
    for text in values:
        parts = text.split(":")
        # A range is three plain numbers; an ISO time (2035-01-01T00:00:00) has colons too.
        is_range = len(parts) == 3 and all(p.replace(".", "", 1).isdigit() for p in parts)
        count = 1
        try:
            if is_range:
                start, stop, step = (float(p) for p in parts)
                if step <= 0 or stop < start:
                    raise ValueError
                count = int(np.floor((stop - start) / step + 1e-9)) + 1
            else:
                try:
                    value = float(text)
                except ValueError:
                    with quiet_erfa():
                        value = float(Time(text, format="isot").mjd)
        except ValueError:
            raise _bad_input(
                f"--times value {text!r} is not an MJD (60000.5), an ISO date-time "
                "(2026-11-25T03:00:00) or a start:stop:step MJD range (60000:60001:0.25)"
            ) from None
        if len(mjd) + count > max_times:
            raise _bad_input(f"--times {' '.join(values)} makes {len(mjd) + count:,} times or "
                             f"more, above --max-times {max_times:,}; raise --max-times to go "
                             "beyond")
        mjd.extend(start + step * np.arange(count) if is_range else [value])
    return np.asarray(mjd, dtype=np.float64)


def _cmd_ephemeris(args) -> int:
    from ephemerides import ephemeris, read_orbits
    from sso.io import check_table_path, write_table_atomic

    out = check_table_path(args.out)
    times = _parse_times(args.times, args.max_times)
    orbits = read_orbits(args.orbits, format=args.format, errors=args.errors)
    if len(orbits) * times.size > args.max_rows:
        raise _bad_input(f"{len(orbits):,} orbits at {times.size:,} times make "
                         f"{len(orbits) * times.size:,} rows, more than --max-rows "
                         f"{args.max_rows:,}; raise --max-rows to go beyond")
    table = ephemeris(orbits, times, observatory_code=args.observatory,
                      time_scale=args.time_scale, method=args.method)
    write_table_atomic(table, out)
    logging.getLogger("sso").info("wrote %d rows to %s", len(table), out)
    return 0


def _cmd_demo(args) -> int:
    from sso.demo import run_demo

    run_demo(args.out, seed=args.seed, nights=args.nights, n_mba=args.n_mba, n_neo=args.n_neo,
             progress=_console("sso demo"))
    print(f"sso demo: tables, state and plots in {args.out}", file=sys.stderr)
    return 0


def _cmd_simulate(args) -> int:

    from ephemerides import read_orbits
    from sso.cadence import read_visits, synthetic_cadence, visit_midpoints
    from sso.io import (
        check_output_folder,
        check_sky_nside,
        write_diasource_dataset,
        write_table_atomic,
    )
    from sso.population import synthetic_population
    from sso.simulate import simulate

    if args.sky_nside is not None and not args.dataset:
        raise _bad_input("--sky-nside partitions the dataset of --dataset; give both")
    if args.sky_nside is not None:
        check_sky_nside(args.sky_nside)
    out = check_output_folder(args.out, "--out")
    if args.nights is not None and args.nights < 1:
        raise _bad_input(f"--nights must be >= 1; got {args.nights}")
    if args.visits is not None:
        visits = read_visits(args.visits, nights=args.nights)
    else:
        visits = synthetic_cadence(args.seed, nights=args.nights or 1,
                                   start_mjd=args.start_mjd)
    if args.orbits is not None:
        orbits = read_orbits(args.orbits, errors=args.errors)
    else:
        if args.synthetic < 1:
            raise _bad_input(f"--synthetic needs a positive number of objects; got "
                             f"{args.synthetic}")
        orbits = synthetic_population(args.synthetic, args.seed,
                                      epoch_mjd_tdb=float(visit_midpoints(visits).min()))

    result = simulate(orbits, visits, args.seed, noise_per_deg2=args.noise_per_deg2,
                      footprint=args.footprint, detector_corners=args.detector_corners,
                      progress=_console("sso simulate"), cutouts=args.cutouts)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("diasources", "truth", "visits", *(("cutouts",) if args.cutouts else ())):
        write_table_atomic(getattr(result, name), out / f"{name}.parquet")
    if args.dataset:
        write_diasource_dataset(result.diasources, out / "diasources", result.visits,
                                args.sky_nside)
    # The population simulated: the known-object catalogue for `sso associate --orbits`.
    write_table_atomic(orbits, out / "orbits.parquet")
    print(f"sso simulate: wrote {len(result.diasources)} DIASources of {len(result.visits)} "
          f"visits to {out}", file=sys.stderr)
    return 0


def _cmd_associate(args) -> int:

    from ephemerides import NightlyCache, read_orbits
    from sso.association import validate_diasources
    from sso.cadence import night_of, read_visits
    from sso.cutouts import read_cutouts, with_measured_trails
    from sso.executors import make_executor
    from sso.io import check_output_folder, is_diasource_dataset, read_diasources
    from sso.night import associate_visits, night_number

    out = check_output_folder(args.out, "--out")
    night = None if args.night is None else night_number(args.night)
    diasources = validate_diasources(read_diasources(
        args.diasources, "--diasources", nights=None if night is None else [night]))
    if night is not None:
        diasources = diasources[night_of(diasources["midpointMjdTai"].to_numpy()) == night]
    cache = orbits = None
    if args.cache is not None:
        cache = NightlyCache.load(args.cache, observatory_code=args.observatory)
    else:
        orbits = read_orbits(args.orbits, errors=args.errors)
    dataset = args.diasources if is_diasource_dataset(args.diasources) else None
    if args.cutouts is not None:
        # The trails measured on the cutouts go with the DIASources (not re-read from a
        # dataset).
        diasources = with_measured_trails(diasources, read_cutouts(args.cutouts),
                                          f"cutout file {args.cutouts}")
        dataset = None
    with make_executor(args.executor, args.workers, args.scheduler) as executor:
        summary = associate_visits(
            diasources, read_visits(args.visits), out, orbits=orbits, cache=cache,
            radius_arcsec=args.radius_arcsec, observatory_code=args.observatory,
            footprint=args.footprint, detector_corners=args.detector_corners,
            executor=executor, unit_orbits=args.unit_orbits, dataset=dataset,
            night=night, progress=_console("sso associate"))
    print(f"sso associate: {summary['n_associated']} of {summary['n_diasources']} DIASources "
          f"associated in {summary['n_visits']} visits; wrote {out}", file=sys.stderr)
    return 0


def _cmd_night(args) -> int:
    from ephemerides import read_orbits
    from linking import LinkingConfig, read_fitted_orbits
    from sso.cadence import read_visits
    from sso.cutouts import read_cutouts
    from sso.executors import make_executor
    from sso.io import is_diasource_dataset, read_diasources
    from sso.linkjob import read_link_config
    from sso.night import NightSettings, night_number, run_night

    link = read_link_config(args.config) if args.config else LinkingConfig()
    settings = NightSettings(radius_arcsec=args.radius_arcsec, observatory_code=args.observatory,
                             footprint=args.footprint, detector_corners=args.detector_corners,
                             window_nights=args.window_nights, link=link,
                             designation_prefix=args.prefix, unit_orbits=args.unit_orbits,
                             identify_radius_arcsec=args.identify_radius_arcsec,
                             ades_header=_ades_header(args))
    night_number(args.date)  # the options first, then the files
    settings.validate()
    visits = read_visits(args.visits)
    # A dataset is read by run_night: the night's partition only, visits by the workers.
    diasources = (args.diasources if is_diasource_dataset(args.diasources)
                  else read_diasources(args.diasources, "--diasources"))
    orbits = read_orbits(args.orbits, errors=args.errors)
    improve = None if args.improve is None else read_fitted_orbits(args.improve)
    cutouts = None if args.cutouts is None else read_cutouts(args.cutouts)
    with make_executor(args.executor, args.workers, args.scheduler) as executor:
        report = run_night(args.date, visits, diasources, orbits, args.state_dir, settings,
                           executor=executor, rewind=args.rewind, improve=improve,
                           cutouts=cutouts, progress=_console(f"sso night {args.date}"))
    print(f"sso night {args.date}: {report['n_associated']} of {report['n_diasources']} "
          f"DIASources associated, {report['n_new_objects']} new objects", file=sys.stderr)
    return 0


def _ades_header(args) -> dict:
    """The ADES report's obsContext from --submitter, --observers, --measurers, --telescope."""
    ades = {name: [n.strip() for n in value.split(",") if n.strip()]
            for name, value in (("submitter", args.submitter), ("observers", args.observers),
                                ("measurers", args.measurers)) if value}
    if args.telescope:
        pairs = [item.split("=", 1) for item in args.telescope.split(",")]
        if any(len(pair) != 2 or not pair[0].strip() for pair in pairs):
            raise _bad_input(f"--telescope {args.telescope!r}: give key=value pairs separated "
                             "by commas, e.g. design=Reflector,aperture=8.4,detector=CCD")
        ades["telescope"] = {k.strip(): v.strip() for k, v in pairs}
    return ades


def _cmd_orbit_fit(args) -> int:
    from linking.mpc_formats import read_astrometry
    from linking.orbitdet import determine_orbit, orbit_table, residual_table
    from sso.io import check_table_path, write_table_atomic

    out = check_table_path(args.out)
    residuals_out = check_table_path(args.residuals) if args.residuals else None
    if residuals_out is not None and residuals_out.resolve() == out.resolve():
        raise _bad_input(f"--residuals {args.residuals} is the --out file; give another")
    observations = read_astrometry(args.observations, format=args.format,
                                   unsupported=args.unsupported)
    if len(observations) == 0:
        raise _bad_input(f"--observations {args.observations} holds no observations")
    fits = {}
    for name, rows in observations.groupby("designation", sort=True):
        fits[str(name)] = determine_orbit(rows.reset_index(drop=True), method=args.method)
        fit = fits[str(name)][0]
        print(f"{name}: {fit.status}, {int(fit.used.sum())} of {fit.used.size} observations "
              f"kept ({fit.used.size - int(fit.used.sum())} rejected), RMS "
              f"{fit.rms_arcsec:.3f}\"")
    write_table_atomic(orbit_table(fits), out)
    if residuals_out is not None:
        write_table_atomic(residual_table(fits), residuals_out)
    failed = sum(fit.status != "ok" for fit, _ in fits.values())
    print(f"sso orbit fit: {len(fits) - failed} of {len(fits)} orbits ok; written to {out}",
          file=sys.stderr)
    return 0


def _cmd_link(args) -> int:
    from linking import LinkingConfig
    from sso.executors import make_executor
    from sso.io import read_diasources
    from sso.linkjob import read_link_config, run_link_job

    config = read_link_config(args.config) if args.config else LinkingConfig()
    if args.hypotheses is not None:
        from pathlib import Path

        if not Path(args.hypotheses).is_file():
            raise _bad_input(f"--hypotheses {args.hypotheses} does not exist")
        config = replace(config, hypotheses=str(args.hypotheses))
    elif args.grid is not None:
        from linking.hypotheses import POPULATIONS

        if args.grid != "all" and not all(n in POPULATIONS for n in args.grid.split("+")):
            raise _bad_input(f"unknown hypothesis grid {args.grid!r} for --grid: use "
                             f"{', '.join(POPULATIONS)} joined by '+', or 'all'")
        config = replace(config, hypotheses=args.grid)
    ades = _ades_header(args)
    detections = read_diasources(args.detections, "--detections")
    with make_executor(args.executor, args.workers, args.scheduler) as executor:
        summary = run_link_job(detections, args.out, config, observatory_code=args.observatory,
                               stop_after=args.stop_after, designation_prefix=args.prefix,
                               ades_header=ades, executor=executor,
                               progress=_console("sso link"))
    if summary["complete"]:
        print(f"sso link: {summary['n_linkages']} new objects from {summary['n_detections']} "
              f"detections; orbits, MPC and ADES reports in {args.out}", file=sys.stderr)
    return 0


def _cmd_orbits_fetch(args) -> int:
    from sso.fetch import DEFAULT_URL, fetch_orbits

    result = fetch_orbits(args.out, url=args.url or DEFAULT_URL, timeout_s=args.timeout_s,
                          progress=_console("sso orbits fetch"))
    print(f"sso orbits fetch: {result['orbits']} orbits ({result['bytes']} bytes, sha256 "
          f"{result['sha256'][:16]}…) validated and written to {result['path']}", file=sys.stderr)
    return 0


def _cutouts_argument(parser) -> None:
    parser.add_argument("--cutouts", default=None, metavar="FILE",
                        help="difference-image cutouts of the DIASources (sso simulate "
                        "--cutouts): their trails are measured and the association checks "
                        "trails against the measured errors")


def _orbit_errors_argument(parser) -> None:
    parser.add_argument("--errors", default="raise", choices=["raise", "skip"],
                        help="orbit rows with malformed or invalid values: refuse the file "
                        "(default) or skip them with one warning")


def _footprint_arguments(parser) -> None:
    parser.add_argument("--footprint", default="circle", choices=["circle", "lsst"],
                        help="circular 1.75 deg field (default) or the LSST detectors")
    parser.add_argument("--detector-corners", default=None,
                        help="detector corner CSV for --footprint lsst")


def _ades_arguments(parser) -> None:
    parser.add_argument("--submitter", default=None, help="ADES report: submitter's name")
    parser.add_argument("--observers", default=None,
                        help="ADES report: observers' names, separated by commas")
    parser.add_argument("--measurers", default=None,
                        help="ADES report: measurers' names, separated by commas")
    parser.add_argument("--telescope", default=None,
                        help="ADES report: key=value pairs, e.g. "
                             "name=Rubin,design=Reflector,aperture=8.4,detector=CCD")


def _executor_arguments(parser, cache: bool = True) -> None:
    """--executor, --workers, --scheduler; with ``cache`` also the cache's --unit-orbits."""
    parser.add_argument("--executor", default="serial", choices=["serial", "processes", "dask"],
                        help="where the work units (cache orbits, visits, linking hypotheses) "
                             "run (default serial; the linking search then uses threads)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes for processes / a local Dask cluster "
                             "(default: the CPU count)")
    parser.add_argument("--scheduler", default=None,
                        help="address of a running Dask scheduler (tcp://host:8786)")
    if cache:
        parser.add_argument("--unit-orbits", type=int, default=20_000,
                            help="orbits per work unit of the cache (default 20000); the "
                                 "result depends on it, not on the executor or the workers")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sso",
        description="Solar System objects: ephemerides, simulated DIASources, association.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    parser.add_argument("--version", action=_Version, nargs=0, default=argparse.SUPPRESS,
                        help="print the toolkit's version and exit")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    eph = verbs.add_parser("ephemeris", help="predict positions of catalogued orbits")
    eph.add_argument("--orbits", required=True, help="orbit file: MPCORB, Sorcha, CSV or Parquet")
    eph.add_argument("--format", default=None, choices=["mpcorb", "sorcha", "csv", "parquet"],
                     help="orbit file format (default: detected)")
    _orbit_errors_argument(eph)
    eph.add_argument("--times", required=True, nargs="+",
                     help="MJDs, ISO date-times, or start:stop:step MJD ranges")
    eph.add_argument("--time-scale", default="utc", choices=["utc", "tai", "tt", "tdb"],
                     help="scale of --times (default utc)")
    eph.add_argument("--observatory", default="X05", type=_observatory_code,
                     help="MPC observatory code (default X05)")
    eph.add_argument("--method", default="nbody", choices=["nbody", "2body"],
                     help="propagation: N-body with the JPL planets (default) or 2-body")
    eph.add_argument("--out", required=True, help="output table, .parquet or .csv")
    eph.add_argument("--max-times", type=int, default=MAX_TIMES,
                     help=f"most times --times may give (default {MAX_TIMES:,})")
    eph.add_argument("--max-rows", type=int, default=MAX_ROWS,
                     help=f"most rows (orbits x times) of the output (default {MAX_ROWS:,})")
    eph.set_defaults(func=_cmd_ephemeris)

    sim = verbs.add_parser("simulate", help="simulate DIASources of a population with truth")
    population = sim.add_mutually_exclusive_group(required=True)
    population.add_argument("--orbits", help="orbit file: MPCORB, Sorcha, CSV or Parquet")
    _orbit_errors_argument(sim)
    population.add_argument("--synthetic", type=int, metavar="N",
                            help="draw N synthetic orbits (main belt, NEO, Trojan, TNO)")
    cadence = sim.add_mutually_exclusive_group(required=True)
    cadence.add_argument("--visits", help="OpSim visit table, .parquet or .csv")
    cadence.add_argument("--synthetic-cadence", action="store_true",
                         help="generate an LSST-like cadence of visit pairs near opposition")
    sim.add_argument("--nights", type=int, default=None,
                     help="nights to simulate (default: all of --visits, 1 synthetic)")
    sim.add_argument("--start-mjd", type=float, default=61000.0,
                     help="first night of --synthetic-cadence, MJD TAI (default 61000)")
    sim.add_argument("--noise-per-deg2", type=float, default=300.0,
                     help="false detections per deg² per visit (default 300)")
    _footprint_arguments(sim)
    sim.add_argument("--dataset", action="store_true",
                     help="also write OUT/diasources/, the DIASources as a Parquet dataset "
                     "partitioned by night (night=N/), which sso night and sso associate read "
                     "lazily, one night and (on workers) a few visits at a time")
    sim.add_argument("--sky-nside", type=int, default=None,
                     help="with --dataset: partition each night by the HEALPix pixel "
                     "(NESTED, this nside) of the visit boresight as well")
    sim.add_argument("--cutouts", action="store_true",
                     help="also write OUT/cutouts.parquet: a difference-image cutout around "
                     "every detection (trailed for moving objects; sso associate and sso night "
                     "--cutouts measure them)")
    sim.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sim.add_argument("--out", required=True,
                     help="output folder (created if missing) for the Parquet tables")
    sim.set_defaults(func=_cmd_simulate)

    assoc = verbs.add_parser("associate", help="associate DIASources of one night or several "
                             "with known objects")
    assoc.add_argument("--visits", required=True,
                       help="visit table (.parquet or .csv); the visits of the DIASources' "
                       "night(s) are associated")
    assoc.add_argument("--diasources", required=True,
                       help="DIASource table (.parquet, .csv), a folder of diasources*.parquet, or "
                       "a dataset partitioned by night (sso simulate --dataset)")
    known = assoc.add_mutually_exclusive_group(required=True)
    known.add_argument("--orbits", help="orbit file: each night's cache is built from it and "
                       "saved in parts in OUT/cache/ (OUT/cache/<date>/ for several nights)")
    _orbit_errors_argument(assoc)
    known.add_argument("--cache", help="nightly cache: a file of NightlyCache.save or a "
                       "cache folder (OUT/cache/ of an earlier run)")
    assoc.add_argument("--radius-arcsec", type=float, default=1.0,
                       help="association radius, arcsec (default 1)")
    _footprint_arguments(assoc)
    assoc.add_argument("--observatory", default="X05", type=_observatory_code,
                     help="MPC observatory code (default X05)")
    _cutouts_argument(assoc)
    assoc.add_argument("--night", default=None, metavar="YYYY-MM-DD",
                       help="associate only this night (12:00 to 12:00 UTC from that date); "
                            "default: the one night the DIASources cover")
    assoc.add_argument("--out", required=True, help="output folder (created if missing)")
    _executor_arguments(assoc)
    assoc.set_defaults(func=_cmd_associate)

    link = verbs.add_parser("link", help="link unassociated detections into new objects "
                            "with orbits (resumable by stage)")
    link.add_argument("--detections", required=True,
                      help="DIASource table (.parquet, .csv), a folder of diasources*.parquet, or "
                       "a dataset partitioned by night (sso simulate --dataset)")
    grid = link.add_mutually_exclusive_group()
    grid.add_argument("--hypotheses", default=None,
                      help="HelioLinC3D hypothesis file (r rdot mean_accel)")
    grid.add_argument("--grid", default=None,
                      help="built-in hypothesis grid: mb, neo, trojan, tno joined by '+', or all "
                           "(default: the config's, mb+neo)")
    link.add_argument("--config", default=None,
                      help="TOML file of LinkingConfig settings, with [tracklets] and [fit]")
    link.add_argument("--stop-after", default="fit", choices=["tracklets", "search", "fit"],
                      help="last stage to run (default fit); a later run resumes from here")
    link.add_argument("--observatory", default="X05", type=_observatory_code,
                      help="MPC code for detections without observatoryCode (default X05)")
    link.add_argument("--prefix", default="S",
                      help="first character of the temporary designations (default S)")
    _ades_arguments(link)
    link.add_argument("--out", required=True, help="output folder (created if missing)")
    _executor_arguments(link, cache=False)
    link.set_defaults(func=_cmd_link)

    night = verbs.add_parser("night", help="one night: associate, keep a rolling window of "
                             "unassociated detections, link it, feed new orbits back")
    night.add_argument("--date", required=True, metavar="YYYY-MM-DD",
                       help="the night beginning on this date (12:00 to 12:00 UTC)")
    night.add_argument("--visits", required=True, help="visit table (.parquet or .csv)")
    night.add_argument("--diasources", required=True,
                       help="DIASource table (.parquet, .csv), a folder of diasources*.parquet, or "
                       "a dataset partitioned by night (sso simulate --dataset)")
    night.add_argument("--orbits", required=True,
                       help="catalogue of known orbits: MPCORB, Sorcha, CSV or Parquet")
    _orbit_errors_argument(night)
    night.add_argument("--improve", default=None, metavar="FILE",
                       help="orbits to improve (e.g. sso orbit fit --out): associated with their "
                       "orbit and covariance, refitted jointly with it on every detection")
    _cutouts_argument(night)
    night.add_argument("--identify-radius-arcsec", type=float, default=120.0,
                       help="a new object whose every detection lies this close to a catalogue "
                       "object's prediction is tried as that object (default 120)")
    night.add_argument("--state-dir", required=True,
                       help="folder of the survey's state (window, discoveries, nights)")
    night.add_argument("--rewind", action="store_true",
                       help="run a night earlier than the state's last one, rolling the later "
                       "nights back first (refused without it)")
    night.add_argument("--window-nights", type=int, default=15,
                       help="nights of unassociated detections linked together (default 15)")
    night.add_argument("--radius-arcsec", type=float, default=1.0,
                       help="association radius, arcsec (default 1)")
    _footprint_arguments(night)
    night.add_argument("--observatory", default="X05", type=_observatory_code,
                     help="MPC observatory code (default X05)")
    night.add_argument("--config", default=None,
                       help="TOML file of linking settings (as for sso link)")
    night.add_argument("--prefix", default="S",
                       help="first character of the temporary designations (default S)")
    _ades_arguments(night)
    _executor_arguments(night)
    night.set_defaults(func=_cmd_night)

    orbit_verbs = verbs.add_parser(
        "orbits", aliases=["orbit"], help="the orbit catalogue, and orbits fitted to astrometry"
    ).add_subparsers(
        dest="orbits_verb", required=True, metavar="ACTION")
    fetch = orbit_verbs.add_parser("fetch", help="download and validate the MPC's MPCORB.DAT")
    fetch.add_argument("--url", default=None,
                       help="source (default: the MPC's MPCORB.DAT.gz; http, https or file)")
    fetch.add_argument("--out", default="MPCORB.DAT.gz",
                       help="destination file, replaced only once the download is validated; "
                            ".gz exactly when the source is gzipped (default MPCORB.DAT.gz)")
    fetch.add_argument("--timeout-s", type=float, default=60.0,
                       help="network timeout per read, seconds (default 60)")
    fetch.set_defaults(func=_cmd_orbits_fetch)

    fit = orbit_verbs.add_parser("fit", help="fit one orbit per object to MPC 80-column or "
                                 "ADES (PSV, XML) astrometry")
    fit.add_argument("--observations", required=True,
                     help="astrometry file: MPC 80-column, ADES PSV or ADES XML")
    fit.add_argument("--format", default=None, choices=["mpc80", "ades"],
                     help="astrometry format (default: detected)")
    fit.add_argument("--unsupported", default="raise", choices=["raise", "skip"],
                     help="MPC records of types not read (satellite, radar, deleted): refuse "
                          "the file (default) or skip them with one warning")
    fit.add_argument("--method", default="nbody", choices=["nbody", "2body"],
                     help="motion of the fit: N-body with the JPL planets (default) or 2-body")
    fit.add_argument("--out", required=True,
                     help="orbit table (.csv or .parquet; sso ephemeris reads it), with "
                          "covariance and fit statistics")
    fit.add_argument("--residuals", default=None,
                     help="also write each observation's residuals (.csv or .parquet)")
    fit.set_defaults(func=_cmd_orbit_fit)

    demo = verbs.add_parser("demo", help="a simulated fortnight of a survey, night by night: "
                            "association and discoveries scored against the truth")
    demo.add_argument("--out", default="demo_out", help="output folder (default demo_out)")
    demo.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    demo.add_argument("--nights", type=int, default=14, help="nights simulated (default 14)")
    demo.add_argument("--n-mba", type=int, default=1500,
                      help="main-belt objects in the fields (default 1500)")
    demo.add_argument("--n-neo", type=int, default=60,
                      help="near-Earth objects in the fields (default 60)")
    demo.set_defaults(func=_cmd_demo)

    info = verbs.add_parser("info", help="what made a Parquet file the toolkit wrote: version, "
                            "command, settings, input fingerprints, kernels")
    info.add_argument("file", help="a Parquet file written by the toolkit")
    info.set_defaults(func=_cmd_info)
    return parser


class _Version(argparse.Action):
    """``--version``: the version from the installed distribution's metadata, read when asked
    (:data:`ephemerides.provenance.__version__`), so that the parser loads no package."""

    def __call__(self, parser, namespace, values, option_string=None):
        from ephemerides.provenance import DISTRIBUTION, __version__

        print(f"{DISTRIBUTION} {__version__}")
        parser.exit()


def _console(prefix: str):
    """The command line's renderer of a verb's progress reports on stderr
    (:class:`ephemerides.progress.ConsoleProgress`)."""
    from ephemerides.progress import ConsoleProgress

    return ConsoleProgress(prefix)


def _cmd_info(args) -> int:
    import json

    import pyarrow.parquet as pq

    from ephemerides.provenance import read_provenance

    path = args.file
    try:
        metadata = pq.read_metadata(path)
    except FileNotFoundError:
        raise _bad_input(f"{path} does not exist") from None
    except Exception as err:  # pyarrow's error for a file that is not Parquet
        raise _bad_input(f"{path} is not a Parquet file ({' '.join(str(err).split())}); "
                         "only Parquet files carry provenance") from None
    record = read_provenance(path)
    if record is None:
        raise _bad_input(f"{path} carries no provenance: not written by sso-toolkit, or "
                         "written before it recorded provenance")
    print(f"{path}: {metadata.num_rows:,} rows, {metadata.num_columns} columns")
    print(json.dumps(record, indent=2, sort_keys=True))
    return 0


def _run_record(args) -> dict:
    """The command, settings and inputs of a verb's run, for :func:`ephemerides.provenance.
    recording`."""
    options = {key: value for key, value in vars(args).items() if key not in NOT_SETTINGS}
    inputs = {key: options.pop(key) for key in INPUT_OPTIONS  # sso simulate's --cutouts is
              if key in options and not isinstance(options[key], bool)}  # a flag
    command = " ".join(["sso", args.verb, *([args.orbits_verb] if hasattr(args, "orbits_verb")
                                            else [])])
    return {"command": command, "settings": options, "inputs": inputs}


def _in_option_words(message: str, parser: argparse.ArgumentParser, verb: str) -> str:
    """A library message in the command line's words: a parameter the verb takes as an option
    (``radius_arcsec must be …``, ``seed=…``) is named by that option (``--radius-arcsec``), a
    flag's ``rewind=True`` by the flag (``--rewind``)."""
    import re

    verbs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    chosen = verbs.choices[verb]
    nested = [a for a in chosen._actions if isinstance(a, argparse._SubParsersAction)]
    parsers = [chosen, *(p for a in nested for p in a.choices.values())]  # sso orbit fit
    for action in (a for p in parsers for a in p._actions):
        if action.option_strings and action.dest != "help":
            option = max(action.option_strings, key=len)
            if isinstance(action, argparse._StoreTrueAction):  # rewind=True → --rewind
                message = re.sub(rf"(?<![\w-]){re.escape(action.dest)}=True\b", option, message)
            message = re.sub(rf"(?<![\w-]){re.escape(action.dest)}(?= must|=| is )", option,
                             message)
    return message


def main(argv: list[str] | None = None) -> int:
    """Run the ``sso`` command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s: %(message)s",
                        stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        # Records passed up by other loggers (Dask's, at INFO) skip the root logger's level.
        handler.setLevel(level)
    from ephemerides.errors import InputError  # after parsing: `sso --help` stays instant

    try:
        if args.func is _cmd_info:
            return args.func(args)
        from ephemerides.provenance import recording

        with recording("sso.cli.main", **_run_record(args)):
            return args.func(args)
    except (InputError, OSError) as err:
        message = _in_option_words(" ".join(str(err).split()), parser, args.verb)
        print(f"sso {args.verb}: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as err:  # a defect, not bad input
        if args.verbose:
            traceback.print_exc()
        message = " ".join(f"{type(err).__name__}: {err}".split())
        print(f"sso {args.verb}: internal error: {message}"
              + ("" if args.verbose else " (run again with -v for the traceback)"),
              file=sys.stderr)
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
