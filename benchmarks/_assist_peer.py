"""ASSIST (PyPI ``assist``, with REBOUND) as a side-by-side peer of the N-body integrator.

Benchmark-only and standalone: it runs in its own environment (``.venv-assist``, ``make
bench-propagation-peer``), which holds ASSIST, REBOUND and NumPy and not this project, as a
subprocess of ``bench_propagation.py --peer assist``:

    .venv-assist/bin/python benchmarks/_assist_peer.py IN.npz OUT.npz

IN.npz holds ``states`` (n, 6: barycentric ICRF AU, AU/day), ``epoch`` (MJD TDB), ``targets``
(MJD TDB, one integration from the epoch to each), ``planets`` and ``asteroids`` (the paths of
the same de440.bsp and sb441-n16.bsp the project reads) and ``gr`` ("default": ASSIST's
Einstein–Infeld–Hoffmann term, or "simple": its one-body term, the project's). All particles go
in one simulation per target, with REBOUND's PRS23 step control (``adaptive_mode = 2``: the
shipped default stalls for hours on a batch with a close Earth passage). OUT.npz receives
``positions`` (n, k, 3) and ``seconds`` (k,) of wall time per target.
"""

import sys
import time

import assist
import numpy as np
import rebound


def integrate(states, epoch, target, ephem, gr):
    sim = rebound.Simulation()
    for s in states:
        sim.add(x=s[0], y=s[1], z=s[2], vx=s[3], vy=s[4], vz=s[5])
    sim.t = epoch + 2400000.5 - ephem.jd_ref
    sim.ri_ias15.adaptive_mode = 2
    extras = assist.Extras(sim, ephem)
    if gr == "simple":
        extras.forces = ["GR_SIMPLE" if f == "GR_EIH" else f for f in extras.forces]
    start = time.perf_counter()
    sim.integrate(target + 2400000.5 - ephem.jd_ref)
    seconds = time.perf_counter() - start
    return np.array([[p.x, p.y, p.z] for p in sim.particles]), seconds


def main(source: str, destination: str) -> None:
    given = np.load(source)
    ephem = assist.Ephem(str(given["planets"]), str(given["asteroids"]))
    positions, seconds = [], []
    for target in given["targets"]:
        xyz, wall = integrate(given["states"], float(given["epoch"]), float(target), ephem,
                              str(given["gr"]))
        positions.append(xyz)
        seconds.append(wall)
    np.savez(destination, positions=np.stack(positions, axis=1), seconds=np.array(seconds))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
