"""Lanes for large runs and filtered views: many activities of one type collapse into one
group lane (counts, a concurrency profile, a duration histogram), and a type filter keeps
only the bars made of the chosen events. Pure functions over :func:`.lanes.compute_lanes`
output (no anywidget import)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

GROUP_AT = 24  # more lanes than this of one activity type become one group lane
PROFILE_BINS = 240  # points of a group's concurrency profile
HISTOGRAM_BINS = 12
MARKS = 200  # failed or timed-out attempts kept as clickable marks in a group
POINTS = 1500  # point items a lane keeps; more are merged by time (decisions, signals)

_WAITS = ("scheduled", "backoff")
_ATTEMPTS = ("attempt", "ok", "failed", "timeout")


def filter_lanes(lanes: Sequence[dict[str, Any]], keep: Callable[[int], bool]
                 ) -> list[dict[str, Any]]:
    """The lanes with only the items made of wanted events; empty lanes are dropped.

    ``keep(seq)`` says whether the event at ``seq`` is wanted. An item is kept when the
    event that opened it is wanted, or (for everything but waits, which end where the next
    bar starts) the event that closed it."""
    out = []
    for lane in lanes:
        items = [it for it in lane["items"]
                 if keep(it[4]) or (it[2] not in _WAITS and it[5] != it[4] and keep(it[5]))]
        if items:
            out.append({**lane, "items": items})
    return out


GroupCache = dict[str, tuple[tuple[dict[str, Any], ...], dict[str, Any]]]


def group_lanes(lanes: Sequence[dict[str, Any]], now: float, *, at: int = GROUP_AT,
                cache: GroupCache | None = None) -> list[dict[str, Any]]:
    """Collapse the activity lanes of each type that has more than ``at`` of them into one
    ``group`` lane, placed where the type's first lane was. ``now`` (seconds since the
    run started) ends the bars still open. With ``cache`` (kept by the caller between
    calls), a group whose member lanes are the same objects as last time and all ended
    is not computed again."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for lane in lanes:
        if lane["kind"] == "activity":
            by_type.setdefault(lane["meta"]["type"], []).append(lane)
    grouped = {name for name, members in by_type.items() if len(members) > at}
    if not grouped:
        return list(lanes)
    out: list[dict[str, Any]] = []
    for lane in lanes:
        name = lane["meta"].get("type") if lane["kind"] == "activity" else None
        if name not in grouped:
            out.append(lane)
        elif by_type[name][0] is lane:
            out.append(_cached_group(name, by_type[name], now, cache))
    return out


def _cached_group(name: str, members: list[dict[str, Any]], now: float,
                  cache: GroupCache | None) -> dict[str, Any]:
    if cache is not None and name in cache:
        seen, group = cache[name]
        same = len(seen) == len(members) and all(a is b for a, b in zip(seen, members,
                                                                      strict=True))
        if same and group["items"][0][1] is not None:  # the same lanes, all ended
            return group
    group = group_lane(name, members, now)
    if cache is not None:
        cache[name] = (tuple(members), group)
    return group


def thin_points(lane: dict[str, Any], now: float, limit: int = POINTS) -> dict[str, Any]:
    """The lane with its point items (decisions, signals) merged per kind into at most
    ``limit`` time bins when it has more: a merged item spans its first to its last
    point and counts them."""
    points = [it for it in lane["items"] if it[1] is not None and it[1] == it[0]]
    if len(points) <= limit:
        return lane
    # bins a power of two wide: they stay the same as the run grows (until it doubles),
    # so a live refresh changes only the last bins
    width = 2.0 ** math.ceil(math.log2(max(now, 1e-3) / limit))
    merged: dict[tuple[str, int], list[Any]] = {}
    counts: dict[tuple[str, int], int] = {}
    others = []
    for it in lane["items"]:
        if it[1] is None or it[1] != it[0]:
            others.append(it)
            continue
        key = (it[2], int(it[0] / width))
        if key not in merged:
            merged[key] = list(it)
            counts[key] = 1
        else:
            item = merged[key]
            item[1], item[5] = it[1], it[5]
            counts[key] += 1
    for key, item in merged.items():
        if counts[key] > 1:
            item[3] = f"{counts[key]} {key[0]}s"
    items = sorted([*others, *merged.values()], key=lambda it: (it[0], it[4]))
    return {**lane, "items": items}


def group_lane(name: str, members: Sequence[dict[str, Any]], now: float) -> dict[str, Any]:
    """One lane standing for ``members`` (activity lanes of type ``name``)."""
    statuses: dict[str, int] = {}
    durations: list[float] = []
    spans: list[tuple[float, float]] = []  # attempts, for the concurrency profile
    marks: list[list[Any]] = []
    attempts = retries = timeouts = 0
    first, last = math.inf, 0.0
    for lane in members:
        meta = lane["meta"]
        statuses[meta["status"]] = statuses.get(meta["status"], 0) + 1
        attempts += meta["attempts"]
        retries += meta["retries"]
        timeouts += meta["timeouts"]
        items = lane["items"]
        begin = items[0][0]
        end = items[-1][1]
        first = min(first, begin)
        last = max(last, now if end is None else end)
        if end is not None and items[-1][2] not in _WAITS:
            durations.append(end - begin)
        for it in items:
            if it[2] in _ATTEMPTS:
                spans.append((it[0], now if it[1] is None else it[1]))
            if it[2] in ("failed", "timeout") and len(marks) < MARKS:
                marks.append([it[1], it[1], it[2], f"{lane['label']}: {it[3]}", it[4], it[5]])
    first = 0.0 if first is math.inf else first
    profile, peak = concurrency(spans, first, max(last, first))
    open_ = sum(statuses.get(s, 0) for s in ("scheduled", "running", "retrying"))
    count = f"{len(members):,}"
    band = [first, None if open_ else last, "band", f"{count} {name}: {_counts(statuses)}",
            members[0]["meta"]["seq"], members[-1]["meta"]["seq"]]
    return {
        "id": f"g:{name}",
        "kind": "group",
        "label": f"{name} \u00d7{count}",
        "items": [band, *marks],
        "meta": {
            "type": name, "count": len(members), "statuses": statuses,
            "attempts": attempts, "retries": retries, "timeouts": timeouts,
            "peak": peak, "profile": profile,
            "durations": _quantiles(durations),
            "histogram": histogram(durations),
            "first_seq": members[0]["meta"]["seq"],
        },
    }


def concurrency(spans: Sequence[tuple[float, float]], t0: float, t1: float,
                bins: int = PROFILE_BINS) -> tuple[list[list[float]], int]:
    """How many of ``spans`` ran at once: ``[[t, most at once in the bin], ...]`` over
    ``bins`` equal bins of [t0, t1], and the peak."""
    if not spans:
        return [], 0
    width = max(t1 - t0, 1e-6) / bins
    edges: list[tuple[float, int]] = []
    for a, b in spans:
        edges.append((a, 1))
        edges.append((max(b, a), -1))
    edges.sort()  # an end before a start at the same moment: back to back is not overlap
    most = [0] * bins
    running = peak = 0
    index = 0
    for at, step in edges:
        # bins passed since the last edge keep the count that was running through them
        target = min(int((at - t0) / width), bins - 1)
        while index < target:
            index += 1
            if index < target or at > t0 + index * width:  # ran into this bin
                most[index] = max(most[index], running)
        running += step
        most[index] = max(most[index], running)
        peak = max(peak, running)
    return [[round(t0 + i * width, 3), most[i]] for i in range(bins)], peak


def histogram(values: Sequence[float], bins: int = HISTOGRAM_BINS) -> dict[str, Any]:
    """``{"edges": [...], "counts": [...]}`` over equal bins from the least to the most."""
    if not values:
        return {"edges": [], "counts": []}
    lo, hi = min(values), max(values)
    width = (hi - lo) / bins or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(int((v - lo) / width), bins - 1)] += 1
    return {"edges": [round(lo + i * width, 4) for i in range(bins + 1)], "counts": counts}


def _counts(statuses: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {status}" for status, n in sorted(statuses.items(),
                                                               key=lambda kv: -kv[1]))


def _quantiles(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(int(q * len(ordered)), len(ordered) - 1)], 4)

    return {"min": round(ordered[0], 4), "p50": at(0.5), "p90": at(0.9),
            "max": round(ordered[-1], 4), "mean": round(sum(ordered) / len(ordered), 4)}
