"""Work units of the nightly pipeline, run by an executor of :mod:`sso.executors`.

Nightly cache: the orbit table is cut into consecutive units of ``UNIT_ORBITS`` orbits, each
built into a cache of its own (memory bounded by the unit), and the parts are joined in order
(:meth:`ephemerides.NightlyCache.concat`). The units depend on the catalogue only, so the cache
is the same, byte for byte, whatever the executor and the number of workers. (It differs from a
single-unit build of a larger catalogue in the last bits: the N-body integrator steps a batch of
orbits together.)
"""

from ephemerides import NightlyCache
from sso.executors import SerialExecutor

UNIT_ORBITS = 20_000


def _cache_unit(unit) -> NightlyCache:
    orbits, start, end, observatory_code = unit
    return NightlyCache.build(orbits, start, end, observatory_code=observatory_code)


def build_cache(orbits, night_start_mjd_tai: float, night_end_mjd_tai: float,
                observatory_code: str = "X05", executor=None,
                unit_orbits: int = UNIT_ORBITS) -> NightlyCache:
    """The night's cache of ``orbits``, built unit by unit on ``executor`` (serial if None).

    Parameters are those of :meth:`ephemerides.NightlyCache.build`, plus the executor and the
    unit size (orbits per work unit).
    """
    if not (isinstance(unit_orbits, int) and unit_orbits >= 1):
        raise ValueError(f"unit_orbits must be an integer >= 1; got {unit_orbits!r}")
    units = [(orbits.iloc[first:first + unit_orbits].reset_index(drop=True),
              float(night_start_mjd_tai), float(night_end_mjd_tai), observatory_code)
             for first in range(0, len(orbits), unit_orbits)]
    if not units:  # NightlyCache.build says what is wrong with an empty table
        return NightlyCache.build(orbits, night_start_mjd_tai, night_end_mjd_tai,
                                  observatory_code=observatory_code)
    parts = (executor or SerialExecutor()).map(_cache_unit, units)
    return parts[0] if len(parts) == 1 else NightlyCache.concat(parts, orbits)
