"""Linking metrics with the conventions of difi ("Did I Find It?", B612 / Moeyens et al.).

Three steps, each a vectorised pandas computation:

1. :func:`findable_objects` decides, per true object, whether its detections could have been
   linked at all (difi's *findable*).
2. :func:`classify_linkages` labels each linkage (a set of detections) *pure*, *contaminated*
   or *mixed* from the true object of its members, as difi's ``AllLinkages`` does.
3. :func:`completeness` summarises both: how many findable objects were found, and how clean
   the linkages are.

difi conventions followed here
------------------------------
- The *linked object* of a linkage is the object holding the most of its members;
  ``contamination = 1 - (members of the linked object) / (members of the linkage)``.
- *pure*: every member belongs to one object (no noise). *contaminated* (difi's older name:
  *partial*): not pure, and ``contamination <= contamination_threshold``. *mixed*: the rest;
  as in difi a mixed linkage has no linked object.
- A linkage *finds* its linked object only when it holds at least ``min_obs`` of that object's
  detections (difi's ``min_obs``, default 6): ``found_pure`` / ``found_contaminated``.
- A pure linkage that holds every detection of its object is ``pure_complete``.
- Noise detections (``object_id`` missing) belong to no object: they never make a linkage
  pure and they count as foreign members in the contamination.

Where this module departs from difi's spelling: difi's ``num_obs`` (detections in a linkage) is
``num_members`` here and difi's ``num_members`` (distinct objects) is ``num_objects``; difi's
``contamination`` is a percentage, here it is a fraction (``contamination_threshold=0.2`` is
difi's ``contamination_percentage=20``). difi picks an arbitrary object when two tie for the
majority; here such a linkage is mixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ephemerides.errors import InputError

__all__ = [
    "FindabilityRule",
    "classify_linkages",
    "completeness",
    "findable_objects",
]

LINKAGE_CLASSES = ("pure", "contaminated", "mixed")


@dataclass(frozen=True)
class FindabilityRule:
    """When an object counts as findable; values only, checked when used.

    Attributes
    ----------
    method : {"tracklets", "min_observations"}
        ``"tracklets"`` (default): the object has an intra-night tracklet on at least
        ``min_nights`` distinct nights that all fall within ``window_days``. ``"min_observations"``:
        difi's simpler rule, at least ``min_observations`` detections in total.
    min_separation_arcsec : float
        Smallest on-sky separation between the two detections of a tracklet, arcsec: 0, no
        minimum motion (the findability of ``../shared/DESIGN.md``: an object near its
        stationary point, or seen on back-to-back visits, moves less than an arcsecond).
    max_tracklet_duration_minutes : float
        Largest time between the two detections of a tracklet, minutes (90).
    min_nights : int
        Number of distinct nights with a tracklet needed (3).
    window_days : float
        Those nights must fit in a window this long, days (15): with integer night numbers,
        ``last_night - first_night < window_days``, so nights 0, 7 and 14 fit a 15-day window
        and nights 0, 8 and 15 (spread over 16 nights) do not.
    min_observations : int
        Number of detections needed under ``method="min_observations"`` (6).
    """

    method: Literal["tracklets", "min_observations"] = "tracklets"
    min_separation_arcsec: float = 0.0
    max_tracklet_duration_minutes: float = 90.0
    min_nights: int = 3
    window_days: float = 15.0
    min_observations: int = 6

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first setting that is out of range."""
        if self.method not in ("tracklets", "min_observations"):
            raise InputError(
                f"FindabilityRule.method is {self.method!r}; use 'tracklets' or 'min_observations'"
            )
        checks = {
            "min_separation_arcsec": self.min_separation_arcsec >= 0,
            "max_tracklet_duration_minutes": self.max_tracklet_duration_minutes > 0,
            "min_nights": self.min_nights >= 1,
            "window_days": self.window_days > 0,
            "min_observations": self.min_observations >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise InputError(
                    f"FindabilityRule.{name} is {getattr(self, name)!r}; it must be positive "
                    "(min_separation_arcsec may be 0)"
                )


def _require_columns(table: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(
            f"{what} lacks column(s) {missing}; it has {list(table.columns)}. "
            "Rename the columns (or pass id_column=...) to match."
        )


def angular_separation_arcsec(
    ra1_deg: np.ndarray, dec1_deg: np.ndarray, ra2_deg: np.ndarray, dec2_deg: np.ndarray
) -> np.ndarray:
    """Great-circle separation by the haversine formula (stable at small angles), arcsec."""
    ra1, dec1, ra2, dec2 = (np.radians(a) for a in (ra1_deg, dec1_deg, ra2_deg, dec2_deg))
    hav = np.sin((dec2 - dec1) / 2) ** 2
    hav += np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(hav, 0.0, 1.0)))) * 3600.0


def findable_objects(
    observations: pd.DataFrame,
    rule: FindabilityRule = FindabilityRule(),
    *,
    id_column: str = "diaSourceId",
) -> pd.DataFrame:
    """Decide which true objects could have been linked.

    Parameters
    ----------
    observations : pandas.DataFrame
        One row per detection with ``id_column``, ``object_id`` (missing for noise, which is
        ignored here), ``midpointMjdTai`` (MJD, TAI), ``ra`` and ``dec`` (deg), and optionally
        ``night`` (integer night number). Without ``night`` it is computed as
        ``floor(midpointMjdTai - 0.5)``, which splits nights at UTC noon: right for sites near
        longitude 0, wrong for others (Rubin's nights turn over near 04:00 UTC), so callers should
        pass nights that change at local noon.
    rule : FindabilityRule
        The findability rule; see :class:`FindabilityRule`.
    id_column : str
        Name of the detection identifier column.

    Returns
    -------
    pandas.DataFrame
        One row per object, sorted by ``object_id``: ``object_id``, ``findable`` (bool),
        ``num_obs``, ``num_nights`` (distinct nights with a detection),
        ``num_nights_with_tracklet`` (distinct nights with at least one valid tracklet) and
        ``max_tracklet_nights_in_window`` (most tracklet nights inside one window).

    Raises
    ------
    ValueError
        When a column is missing or the rule is out of range.
    """
    rule.validate()
    needed = [id_column, "object_id", "midpointMjdTai", "ra", "dec"]
    _require_columns(observations, needed, "observations")
    has_night = "night" in observations.columns
    columns = [*needed, "night"] if has_night else needed
    obs = observations.loc[observations["object_id"].notna(), columns].copy()
    if not has_night:
        obs["night"] = np.floor(obs["midpointMjdTai"].to_numpy(dtype=float) - 0.5).astype(np.int64)

    per_object = obs.groupby("object_id", sort=True).agg(
        num_obs=(id_column, "size"), num_nights=("night", "nunique")
    )

    # Every ordered pair of detections of one object on one night (earlier one first).
    obs = obs.reset_index(drop=True)
    obs["_row"] = np.arange(len(obs))
    pairs = obs.merge(obs, on=["object_id", "night"], suffixes=("_a", "_b"))
    pairs = pairs[pairs["midpointMjdTai_b"] > pairs["midpointMjdTai_a"]]
    dt_minutes = (pairs["midpointMjdTai_b"] - pairs["midpointMjdTai_a"]).to_numpy() * 1440.0
    sep_arcsec = angular_separation_arcsec(
        pairs["ra_a"].to_numpy(),
        pairs["dec_a"].to_numpy(),
        pairs["ra_b"].to_numpy(),
        pairs["dec_b"].to_numpy(),
    )
    valid = (dt_minutes <= rule.max_tracklet_duration_minutes) & (
        sep_arcsec >= rule.min_separation_arcsec
    )
    tracklet_nights = (
        pairs.loc[valid, ["object_id", "night"]]
        .drop_duplicates()
        .sort_values(["object_id", "night"])
    )
    per_object["num_nights_with_tracklet"] = (
        tracklet_nights.groupby("object_id").size().reindex(per_object.index, fill_value=0)
    )

    # Most tracklet nights in one window: for each tracklet night, count the tracklet nights of
    # the same object in [night, night + window_days).
    nights = tracklet_nights["night"].to_numpy(dtype=float)
    codes = pd.factorize(tracklet_nights["object_id"])[0].astype(float)
    # Objects are sorted then nights sorted; offsetting each object by a gap larger than any
    # night span makes one global sorted key, so searchsorted never crosses objects.
    span = (nights.max() - nights.min() + rule.window_days + 1.0) if len(nights) else 1.0
    key = codes * span + nights
    in_window = np.searchsorted(key, key + rule.window_days, side="left") - np.arange(len(key))
    per_object["max_tracklet_nights_in_window"] = (
        pd.Series(in_window, index=tracklet_nights["object_id"].to_numpy())
        .groupby(level=0)
        .max()
        .reindex(per_object.index, fill_value=0)
    )

    if rule.method == "tracklets":
        per_object["findable"] = per_object["max_tracklet_nights_in_window"] >= rule.min_nights
    else:
        per_object["findable"] = per_object["num_obs"] >= rule.min_observations
    columns = [
        "object_id",
        "findable",
        "num_obs",
        "num_nights",
        "num_nights_with_tracklet",
        "max_tracklet_nights_in_window",
    ]
    return per_object.reset_index()[columns]


def classify_linkages(
    members: pd.DataFrame,
    observations: pd.DataFrame,
    contamination_threshold: float = 0.2,
    *,
    min_obs: int = 6,
    id_column: str = "diaSourceId",
) -> pd.DataFrame:
    """Label each linkage pure, contaminated or mixed from the truth of its members.

    Parameters
    ----------
    members : pandas.DataFrame
        One row per (linkage, detection): ``linkage_id`` and ``id_column``.
    observations : pandas.DataFrame
        ``id_column`` and ``object_id`` (missing for noise) of every detection in ``members``.
    contamination_threshold : float
        Largest fraction of foreign (other-object or noise) members, in [0, 1), for a non-pure
        linkage to be *contaminated* rather than *mixed* (0.2: at least 80 % of one object).
    min_obs : int
        Members of the linked object a linkage needs to count as finding it (difi's default 6).
    id_column : str
        Name of the detection identifier column in both tables.

    Returns
    -------
    pandas.DataFrame
        One row per linkage, sorted by ``linkage_id``: ``linkage_id``, ``num_members``
        (detections), ``num_objects`` (distinct true objects, noise excluded), ``num_noise``,
        ``linked_object_id`` (the majority object; missing for mixed linkages),
        ``num_obs_linked_object``, ``purity`` (majority object's members / ``num_members``),
        ``contamination`` (``1 - purity``), ``linkage_class`` ("pure", "contaminated",
        "mixed"), ``pure_complete`` (pure and holding every detection of its object),
        ``found_pure`` and ``found_contaminated``. When two objects tie for the majority the
        linkage cannot be attributed and is mixed; its ``purity`` still uses the tied count.

    Raises
    ------
    ValueError
        When a column is missing, a member is not among the observations, a detection appears
        twice in one linkage, or a setting is out of range.
    """
    if not 0.0 <= contamination_threshold < 1.0:
        raise InputError(
            f"contamination_threshold is {contamination_threshold!r}; use a fraction in [0, 1) "
            "(0.2 means up to 20 % foreign members)"
        )
    if min_obs < 1:
        raise InputError(f"min_obs is {min_obs!r}; it must be at least 1")
    _require_columns(members, ["linkage_id", id_column], "members")
    _require_columns(observations, [id_column, "object_id"], "observations")
    if observations[id_column].duplicated().any():
        raise InputError(f"observations has repeated {id_column} values; each must be unique")
    repeated = members.duplicated(["linkage_id", id_column])
    if repeated.any():
        first = members.loc[repeated].iloc[0]
        raise InputError(
            f"{int(repeated.sum())} member row(s) repeat a detection within a linkage, e.g. "
            f"{first[id_column]!r} in {first['linkage_id']!r}; drop duplicates first"
        )

    truth = observations[[id_column, "object_id"]]
    merged = members[["linkage_id", id_column]].merge(
        truth, on=id_column, how="left", indicator=True
    )
    unknown = merged["_merge"] == "left_only"
    if unknown.any():
        raise InputError(
            f"{int(unknown.sum())} member(s) are not in observations, e.g. "
            f"{merged.loc[unknown, id_column].iloc[0]!r}; pass every detection the linkages use"
        )

    merged["_noise"] = merged["object_id"].isna()
    per_linkage = merged.groupby("linkage_id", sort=True).agg(
        num_members=(id_column, "size"),
        num_objects=("object_id", "nunique"),
        num_noise=("_noise", "sum"),
    )
    counts = (
        merged.dropna(subset=["object_id"])
        .groupby(["linkage_id", "object_id"], sort=True)
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["linkage_id", "n", "object_id"], ascending=[True, False, True])
    )
    top = counts.groupby("linkage_id").head(1).set_index("linkage_id")
    max_n = counts.groupby("linkage_id")["n"].transform("max")
    tied = (counts[counts["n"] == max_n].groupby("linkage_id").size() > 1).reindex(
        per_linkage.index, fill_value=False
    )

    majority_n = top["n"].reindex(per_linkage.index, fill_value=0)
    purity = majority_n / per_linkage["num_members"]
    pure = (per_linkage["num_objects"] == 1) & (per_linkage["num_noise"] == 0)
    contaminated = ~pure & ~tied & (majority_n > 0) & (1.0 - purity <= contamination_threshold)
    linkage_class = np.where(pure, "pure", np.where(contaminated, "contaminated", "mixed"))

    out = per_linkage.copy()
    attributed = pure | contaminated
    out["linked_object_id"] = top["object_id"].reindex(out.index).where(attributed)
    out["num_obs_linked_object"] = majority_n.where(attributed, 0).astype(np.int64)
    out["purity"] = purity.astype(float)
    out["contamination"] = 1.0 - out["purity"]
    out["linkage_class"] = pd.Categorical(linkage_class, categories=list(LINKAGE_CLASSES))
    obs_per_object = truth.groupby("object_id").size()
    out["pure_complete"] = pure & (
        out["linked_object_id"].map(obs_per_object).to_numpy() == out["num_obs_linked_object"]
    )
    enough = out["num_obs_linked_object"] >= min_obs
    out["found_pure"] = pure & enough
    out["found_contaminated"] = contaminated & enough
    return out.reset_index()


def completeness(findable: pd.DataFrame, classified: pd.DataFrame) -> dict[str, float | int]:
    """Summarise how many findable objects were found and how clean the linkages are.

    Parameters
    ----------
    findable : pandas.DataFrame
        Output of :func:`findable_objects` (``object_id``, ``findable``).
    classified : pandas.DataFrame
        Output of :func:`classify_linkages`.

    Returns
    -------
    dict
        ``num_findable``; ``num_found_pure`` (findable objects with at least one ``found_pure``
        linkage); ``num_found_contaminated`` (findable objects with a ``found_contaminated``
        linkage); ``num_found`` (either, difi's *found*); ``completeness`` =
        ``num_found_pure / num_findable`` (NaN when nothing is findable);
        ``completeness_with_contaminated`` = ``num_found / num_findable``; ``num_linkages``,
        ``num_pure``, ``num_contaminated``, ``num_mixed``; ``pure_fraction`` = ``num_pure /
        num_linkages`` (NaN without linkages).

    Raises
    ------
    ValueError
        When a column is missing.
    """
    _require_columns(findable, ["object_id", "findable"], "findable")
    _require_columns(
        classified,
        ["linked_object_id", "linkage_class", "found_pure", "found_contaminated"],
        "classified",
    )
    findable_ids = findable.loc[findable["findable"].astype(bool), "object_id"]
    pure_ids = classified.loc[classified["found_pure"], "linked_object_id"]
    contaminated_ids = classified.loc[classified["found_contaminated"], "linked_object_id"]
    found_pure = findable_ids.isin(pure_ids)
    found_contaminated = findable_ids.isin(contaminated_ids)
    num_findable = len(findable_ids)
    num_linkages = len(classified)
    classes = classified["linkage_class"].astype(str).value_counts()

    def ratio(num: int, den: int) -> float:
        return num / den if den else float("nan")

    return {
        "num_findable": num_findable,
        "num_found_pure": int(found_pure.sum()),
        "num_found_contaminated": int(found_contaminated.sum()),
        "num_found": int((found_pure | found_contaminated).sum()),
        "completeness": ratio(int(found_pure.sum()), num_findable),
        "completeness_with_contaminated": ratio(
            int((found_pure | found_contaminated).sum()), num_findable
        ),
        "num_linkages": num_linkages,
        "num_pure": int(classes.get("pure", 0)),
        "num_contaminated": int(classes.get("contaminated", 0)),
        "num_mixed": int(classes.get("mixed", 0)),
        "pure_fraction": ratio(int(classes.get("pure", 0)), num_linkages),
    }
