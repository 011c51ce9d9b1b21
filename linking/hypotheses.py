"""Heliocentric distance hypotheses for the HelioLinC3D search.

A hypothesis file (HelioLinC3D's format) has one header line starting with ``#`` and then one
hypothesis per line, three whitespace-separated numbers::

    #r(AU) rdot(AU/day) mean_accel
    1.5 -0.0180575 0.583402

``r`` is the heliocentric distance (AU) and ``rdot`` its rate of change (AU/day) at the search's
reference epoch; ``mean_accel`` is the radial acceleration r̈ in units of −GM☉/r² (1 for a
purely Keplerian radial fall with no angular momentum, ~0 for a circular orbit).
"""

from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ("r_au", "rdot_au_per_day", "mean_accel")


def read_hypotheses(path) -> pd.DataFrame:
    """Read a HelioLinC3D hypothesis file.

    Parameters
    ----------
    path : str or os.PathLike
        Text file: ``#`` comment lines, then rows ``r(AU) rdot(AU/day) mean_accel``.

    Returns
    -------
    pandas.DataFrame
        ``r_au`` (AU, > 0), ``rdot_au_per_day`` (AU/day), ``mean_accel`` (units of −GM☉/r²),
        float64, in file order.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When a line does not hold three finite numbers or ``r`` is not positive; the message
        names the file, the line and the column.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"hypothesis file {path} not found")
    rows = []
    with path.open() as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            fields = text.split()
            if len(fields) != 3:
                raise ValueError(
                    f"{path}, line {number}: expected 3 columns ({' '.join(COLUMNS)}), "
                    f"got {len(fields)}: {text!r}"
                )
            values = []
            for column, field in zip(COLUMNS, fields, strict=True):
                try:
                    value = float(field)
                except ValueError:
                    raise ValueError(
                        f"{path}, line {number}, column {column!r}: {field!r} is not a number"
                    ) from None
                if not np.isfinite(value):
                    raise ValueError(
                        f"{path}, line {number}, column {column!r}: {field!r} is not finite"
                    )
                values.append(value)
            if values[0] <= 0.0:
                raise ValueError(
                    f"{path}, line {number}, column 'r_au': heliocentric distance must be > 0 AU;"
                    f" got {values[0]}"
                )
            rows.append(values)
    if not rows:
        raise ValueError(f"{path}: no hypotheses found (only comments or blank lines)")
    return pd.DataFrame(np.array(rows, dtype=np.float64), columns=list(COLUMNS))
