"""Work units of the nightly pipeline, run by an executor of :mod:`sso.executors`.

Nightly cache: the orbit table is cut into consecutive units of ``UNIT_ORBITS`` orbits, each
built into a cache of its own (memory bounded by the unit), and the parts are joined in order
(:meth:`ephemerides.NightlyCache.concat`). The units depend on the catalogue only, so the cache
is the same, byte for byte, whatever the executor and the number of workers. (It differs from a
single-unit build of a larger catalogue in the last bits: the N-body integrator steps a batch of
orbits together.)

Given a folder, every unit commits its part there itself (``part-00000.parquet``, ...; written
atomically by the worker, so a unit run twice after a lost worker writes the same file once),
and the driver writes the folder's manifest last (:meth:`ephemerides.NightlyCache.commit_folder`).
A build stopped half-way resumes: a unit whose part is already there, for the same orbits and
night, reads it instead of building it again.
"""

from pathlib import Path

from ephemerides import NightlyCache
from ephemerides.errors import InputError
from sso.executors import SerialExecutor

UNIT_ORBITS = 20_000
PART_NAME = "part-{:05d}.parquet"


def _cache_unit(unit) -> NightlyCache:
    orbits, start, end, observatory_code, part = unit
    if part is not None and part.is_file():
        try:
            return NightlyCache.load(part, orbits, night_start_mjd_tai=start,
                                     night_end_mjd_tai=end, observatory_code=observatory_code)
        except ValueError:
            pass  # another catalogue's or night's part: built again below
    cache = NightlyCache.build(orbits, start, end, observatory_code=observatory_code)
    if part is not None:
        cache.save(part)
    return cache


def build_cache(orbits, night_start_mjd_tai: float, night_end_mjd_tai: float,
                observatory_code: str = "X05", executor=None,
                unit_orbits: int = UNIT_ORBITS, folder=None) -> NightlyCache:
    """The night's cache of ``orbits``, built unit by unit on ``executor`` (serial if None).

    Parameters are those of :meth:`ephemerides.NightlyCache.build`, plus the executor, the unit
    size (orbits per work unit) and ``folder``: where the units commit their parts (created if
    missing; the module docstring says how), so that ``NightlyCache.load(folder)`` reads the
    cache back. Without a folder nothing is written.
    """
    if not (isinstance(unit_orbits, int) and unit_orbits >= 1):
        raise InputError(f"unit_orbits must be an integer >= 1; got {unit_orbits!r}")
    if len(orbits) == 0:  # NightlyCache.build says what is wrong with an empty table
        return NightlyCache.build(orbits, night_start_mjd_tai, night_end_mjd_tai,
                                  observatory_code=observatory_code)
    created = []
    if folder is not None:
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise InputError(f"the cache folder {folder} is a file; give a folder")
        created = [path for path in (folder, *folder.parents) if not path.exists()]
        folder.mkdir(parents=True, exist_ok=True)
    names = [PART_NAME.format(k) for k in range(-(-len(orbits) // unit_orbits))]
    units = [(orbits.iloc[k * unit_orbits:(k + 1) * unit_orbits].reset_index(drop=True),
              float(night_start_mjd_tai), float(night_end_mjd_tai), observatory_code,
              None if folder is None else folder / name) for k, name in enumerate(names)]
    try:
        parts = (executor or SerialExecutor()).map(_cache_unit, units)
    except BaseException:
        for path in created:  # folders this call made and no unit committed to
            if not any(path.iterdir()):
                path.rmdir()
        raise
    cache = NightlyCache.concat(parts, orbits)
    if folder is not None:
        for stale in set(folder.glob("part-*.parquet")) - {folder / name for name in names}:
            stale.unlink()  # parts of an earlier build with more units
        cache.commit_folder(folder, names)
    return cache
