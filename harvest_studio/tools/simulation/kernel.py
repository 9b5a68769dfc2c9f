"""The simulation: all runs at once, vectorised over runs with numpy.

Each step handles the earliest event of every run still going: either a column becomes
ready (it is dispatched: it takes the earliest free slot of each pool it needs, and its
attempt's duration and outcome are drawn) or an attempt ends (it is retried after its
backoff, or the column ends and its downstream columns' trigger rules are decided, which
may end more columns at once: skips and upstream failures cascade). Events are taken in
time order within a run, so a rule decides at the moment its outcome is known, as the
engine's does, and slots are handed out first come, first served.

Random numbers come from a counter-based hash of (seed, run, column, attempt, purpose): a
what-if run with the same seed draws the same numbers for the same attempt of the same
node, however differently its events unfold (common random numbers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..progress import progress
from .inputs import GRID, Inputs
from .plan import GATE, ITEM, MAP_JOIN, Plan

PENDING, SUCCEEDED, FAILED, TIMED_OUT, SKIPPED, UPSTREAM_FAILED, CANCELLED = range(7)
RUN = 10  # a verdict: the column is to run
_FAILING = (FAILED, TIMED_OUT, UPSTREAM_FAILED, CANCELLED)
MAX_UPSTREAMS = 0xFFFF
"""a column's upstream ends are counted in 16-bit fields, one per kind of end"""
_PACKED = np.zeros(7, dtype=np.uint64)  # what an end of each outcome adds to the counts
_PACKED[SUCCEEDED] = 1
_PACKED[[FAILED, TIMED_OUT, UPSTREAM_FAILED, CANCELLED]] = 1 << 16
_PACKED[SKIPPED] = 1 << 32
_PACKED[UPSTREAM_FAILED] += np.uint64(1 << 48)
DURATION, FAILURE, JITTER, SKIP, ITEMS = range(5)  # what a random number is for

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def uniforms(seed: int, run: np.ndarray, column: np.ndarray, attempt: np.ndarray | int,
             purpose: int) -> np.ndarray:
    """Uniform numbers in [0, 1), one per (run, column, attempt), the same for the same
    arguments (splitmix64 of the packed counters)."""
    with np.errstate(over="ignore"):
        x = (np.uint64(seed) * _GOLDEN
             + run.astype(np.uint64) * np.uint64(0x100000001B3)
             + (np.asarray(column, dtype=np.uint64) << np.uint64(20))
             + (np.asarray(attempt, dtype=np.uint64) << np.uint64(8))
             + np.uint64(purpose))
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        z = z ^ (z >> np.uint64(31))
    found: np.ndarray = (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
    return found


def item_counts(inputs: Inputs, maps: list[str], columns: dict[str, int], runs: int,
                seed: int) -> dict[str, np.ndarray]:
    """How many items each map node gets in each run (drawn from its distribution)."""
    rows = np.arange(runs)
    found: dict[str, np.ndarray] = {}
    for name in maps:
        dist = inputs.nodes[name].items
        assert dist is not None
        u = uniforms(seed, rows, np.full(runs, columns[name]), 0, ITEMS)
        found[name] = np.maximum(0, np.rint(np.interp(u, np.linspace(0, 1, GRID),
                                                      dist.quantiles))).astype(np.int64)
    return found


@dataclass
class Raw:
    """What every simulated run came to (rows: runs; node columns: the DAG's nodes)."""

    makespan: np.ndarray
    failed: np.ndarray
    critical: np.ndarray
    queue_wait: np.ndarray
    attempts: np.ndarray
    busy: np.ndarray


def verdicts(rule: np.ndarray, succ: np.ndarray, fail: np.ndarray, skip: np.ndarray,
             uf: np.ndarray, indeg: np.ndarray) -> np.ndarray:
    """:func:`harvest_studio.model.trigger_rules.decide` for many columns at once, on
    counts of their upstreams' ends (``PENDING``: not yet decided)."""
    done = succ + fail + skip == indeg
    if rule.size and (rule == rule[0]).all():  # the common case: one rule for all
        out = np.asarray(_RULES[int(rule[0])](done, succ, fail, skip, uf, indeg), np.int8)
    else:
        out = np.full(rule.shape, PENDING, dtype=np.int8)
        for code in np.unique(rule):
            sel = rule == code
            d, s, f, k, u, n = done[sel], succ[sel], fail[sel], skip[sel], uf[sel], indeg[sel]
            out[sel] = _RULES[int(code)](d, s, f, k, u, n)
    out[(indeg == 0) & (rule != MAP_JOIN)] = RUN
    return out


def _all_success(d: Any, s: Any, f: Any, k: Any, u: Any, n: Any) -> Any:
    return np.where(f > 0, UPSTREAM_FAILED, np.where(d, np.where(k > 0, SKIPPED, RUN), PENDING))


def _map_join(d: Any, s: Any, f: Any, k: Any, u: Any, n: Any) -> Any:
    return np.where(d, np.where(s == n, SUCCEEDED, np.where(
        k == n, SKIPPED, np.where(u == n, UPSTREAM_FAILED, FAILED))), PENDING)


_RULES: list[Any] = [  # in the order of TRIGGER_RULES, then the map join
    _all_success,
    lambda d, s, f, k, u, n: np.where(d, RUN, PENDING),  # all_done
    lambda d, s, f, k, u, n: np.where(s + k > 0, SKIPPED, np.where(d, RUN, PENDING)),
    lambda d, s, f, k, u, n: np.where(s > 0, RUN, np.where(  # one_success
        d, np.where(k == n, SKIPPED, UPSTREAM_FAILED), PENDING)),
    lambda d, s, f, k, u, n: np.where(f > 0, RUN, np.where(d, SKIPPED, PENDING)),
    lambda d, s, f, k, u, n: np.where(f > 0, UPSTREAM_FAILED, np.where(d, RUN, PENDING)),
    lambda d, s, f, k, u, n: np.where(f > 0, UPSTREAM_FAILED,  # none_failed_min_one_success
                                      np.where(d, np.where(s > 0, RUN, SKIPPED), PENDING)),
    lambda d, s, f, k, u, n: np.full(d.shape, RUN),  # always
    _map_join,
]


class _State:
    """The arrays of all runs in flight (one extra column: where padding points)."""

    def __init__(self, plan: Plan, inputs: Inputs, runs: int, seed: int,
                 counts: dict[str, np.ndarray]) -> None:
        self.plan, self.runs, self.seed = plan, runs, seed
        shape = (runs, plan.columns + 1)
        # when each column is next ready, and when its running attempt ends: two views of
        # one array, so one argmin finds a run's next event of either kind
        self.events = np.full((runs, 2 * shape[1]), np.inf)
        self.ready, self.ending = self.events[:, : shape[1]], self.events[:, shape[1]:]
        self.ended = np.full(shape, -np.inf)
        self.outcome = np.zeros(shape, dtype=np.int8)
        self.pending = np.zeros(shape, dtype=np.int8)
        self.attempt = np.zeros(shape, dtype=np.int64)
        self.first_ready = np.zeros(shape)
        self.decided = np.zeros(shape, dtype=bool)
        self.decided[:, -1] = True
        self.phantom = np.zeros(shape, dtype=bool)
        self.counts = np.zeros(shape, dtype=np.uint64)  # packed: see _PACKED
        self.indeg = np.broadcast_to(plan.indeg, shape).copy()
        self.pred = np.full(shape, -1, dtype=np.int64)
        self.width = shape[1]
        # flat views: indexing one dimension with ``run * width + column`` is much faster
        # than indexing two
        # ready at run * width + (run * width + column), its attempt's end a width later
        self.f_events = self.events.reshape(-1)
        self.f_ended, self.f_outcome = self.ended.reshape(-1), self.outcome.reshape(-1)
        self.f_pending, self.f_attempt = self.pending.reshape(-1), self.attempt.reshape(-1)
        self.f_first_ready = self.first_ready.reshape(-1)
        self.f_decided, self.f_phantom = self.decided.reshape(-1), self.phantom.reshape(-1)
        self.f_counts, self.f_indeg = self.counts.reshape(-1), self.indeg.reshape(-1)
        self.f_pred = self.pred.reshape(-1)
        self.latency = inputs.latency
        self.node_count = len(plan.nodes)
        self.queue_wait = np.zeros((runs, self.node_count))
        self.attempts = np.zeros((runs, self.node_count), dtype=np.int64)
        self.busy = np.zeros((runs, len(plan.group_slots)))
        offsets = np.cumsum([0, *plan.group_slots])
        self.group_offset = offsets[:-1]
        self.slot_free = np.full((runs, int(offsets[-1])), -np.inf)  # never used yet
        names = plan.nodes
        node_inputs = [inputs.nodes[names[n]] for n in plan.node_of]
        self.quantiles = np.vstack([np.array([i.ok.quantiles for i in node_inputs]),
                                    np.array([i.failed.quantiles for i in node_inputs])])
        self.failure_rate = np.array([i.failure_rate for i in node_inputs])
        self.skip_rate = np.array([i.skip_rate for i in node_inputs])
        for name, (first, size) in plan.items.items():
            got = counts[name]
            join = first + size
            self.indeg[:, join] = np.maximum(got, 1)
            self.phantom[:, first] = got == 0
            for k in range(1, size):
                absent = got <= k
                self.decided[absent, first + k] = True
        sibling_first = np.full(plan.columns + 1, -1)
        sibling_count = np.zeros(plan.columns + 1, dtype=np.int64)
        for first, size in plan.items.values():
            sibling_first[first:first + size] = first
            sibling_count[first:first + size] = size
        self.sibling_first, self.sibling_count = sibling_first, sibling_count

    # -- events -------------------------------------------------------------------------

    def start(self) -> None:
        plan = self.plan
        zero = np.zeros(plan.columns, dtype=np.int64)
        first = verdicts(plan.rule, zero, zero, zero, zero, plan.indeg[:-1])
        roots = np.nonzero(first != PENDING)[0]  # the same in every run at the start
        rows = np.repeat(np.arange(self.runs), roots.size)
        cols = np.tile(roots, self.runs)
        keep = ~self.f_decided[rows * self.width + cols]
        count = int(keep.sum())
        ends = self._decide(rows[keep], cols[keep], np.zeros(count), np.full(count, -1),
                            self.latency.start)
        self._finish(*ends)

    def dispatch(self, rows: np.ndarray, cols: np.ndarray, ready: np.ndarray) -> None:
        plan = self.plan
        at = rows * self.width + cols
        event = rows * self.width + at
        attempt = self.f_attempt[at]
        fail = uniforms(self.seed, rows, cols, attempt, FAILURE) < self.failure_rate[cols]
        position = uniforms(self.seed, rows, cols, attempt, DURATION) * (GRID - 1)
        low = np.minimum(position.astype(np.int64), GRID - 2)
        share = position - low
        table = cols + plan.columns * fail
        seconds = (self.quantiles[table, low] * (1 - share)
                   + self.quantiles[table, low + 1] * share)
        limit = plan.start_to_close[cols]
        timed_out = seconds > limit
        seconds = np.minimum(seconds, limit)
        outcome = np.where(timed_out, TIMED_OUT, np.where(fail, FAILED, SUCCEEDED))
        phantom = self.f_phantom[at]
        seconds[phantom] = 0.0
        outcome[phantom] = SUCCEEDED
        uses_slots = (plan.kind[cols] != GATE) & ~phantom
        start = np.where(uses_slots, ready + self.latency.claim, ready)
        chosen = np.full((len(rows), 3), -1)
        # from a slot freeing to the next attempt starting in it: a capped activity type's
        # slot is seen at the next claim; a map's gate needs a decision to schedule the next
        # item, then a claim
        handover = (0.0, self.latency.claim, self.latency.decide + self.latency.claim)
        for k in range(3):
            group = np.where(uses_slots, plan.groups[cols, k], -1)
            if group.max(initial=-1) < 0:
                continue
            for g in np.unique(group[group >= 0]):
                sel = np.nonzero(group == g)[0]
                lo = self.group_offset[g]
                block = self.slot_free[rows[sel], lo:lo + plan.group_slots[g]]
                slot = block.argmin(axis=1)
                chosen[sel, k] = lo + slot
                free = block[np.arange(len(sel)), slot] + handover[k]
                start[sel] = np.maximum(start[sel], free)
        end = start + seconds
        for k in range(3):
            held = chosen[:, k] >= 0
            self.slot_free[rows[held], chosen[held, k]] = end[held]
            if k == 0:
                pools = plan.groups[cols[held], 0]
                self.busy[rows[held], pools] += seconds[held]
        nodes = plan.node_of[cols]
        waited = start - np.where(uses_slots, ready + self.latency.claim, ready)
        self.queue_wait[rows, nodes] += waited
        self.attempts[rows, nodes] += ~phantom
        self.f_events[event] = np.inf
        self.f_events[event + self.width] = end
        self.f_pending[at] = outcome

    def complete(self, rows: np.ndarray, cols: np.ndarray, now: np.ndarray) -> None:
        plan = self.plan
        at = rows * self.width + cols
        event = rows * self.width + at
        self.f_events[event + self.width] = np.inf
        outcome = self.f_pending[at]
        done = self.f_attempt[at] + 1
        failing = (outcome == FAILED) | (outcome == TIMED_OUT)
        jitter = uniforms(self.seed, rows, cols, done, JITTER)
        wait = np.minimum(plan.initial_interval[cols]
                          * plan.backoff_coefficient[cols] ** (done - 1),
                          plan.max_interval[cols]) * (1 - plan.jitter[cols] * jitter)
        again = now + wait
        retry = (failing & (done < plan.max_attempts[cols])
                 & (again - self.f_first_ready[at] <= plan.schedule_to_close[cols]))
        self.f_events[event[retry]] = again[retry]
        self.f_attempt[at[retry]] = done[retry]
        last = ~retry
        self._finish(rows[last], cols[last], now[last], outcome[last])

    # -- ends and decisions -------------------------------------------------------------

    def _finish(self, rows: np.ndarray, cols: np.ndarray, now: np.ndarray,
                outcome: np.ndarray) -> None:
        plan = self.plan
        while rows.size:
            at = rows * self.width + cols
            self.f_ended[at] = now
            self.f_outcome[at] = outcome
            more = self._stop_siblings(rows, cols, now, outcome)
            width = plan.down.shape[1]
            down = plan.down[cols].ravel()
            src = np.repeat(cols, width)
            r = np.repeat(rows, width)
            t = np.repeat(now, width)
            o = np.repeat(outcome, width)
            pair = r * self.width + down
            keep = ~self.f_decided[pair]
            r, down, src, t, o, pair = (r[keep], down[keep], src[keep], t[keep], o[keep],
                                        pair[keep])
            add = _PACKED[o]
            if rows.size < 2 or (np.diff(rows) > 0).all():  # one end per run: no pair twice
                self.f_counts[pair] += add
                first = np.arange(r.size)
            else:
                np.add.at(self.f_counts, pair, add)
                _, first = np.unique(pair, return_index=True)
            rows, cols, now, outcome = self._decide(r[first], down[first], t[first],
                                                    src[first], self.latency.decide)
            if more is not None:
                rows, cols, now, outcome = (np.concatenate([a, b]) for a, b in
                                            zip((rows, cols, now, outcome), more, strict=True))

    def _decide(self, rows: np.ndarray, cols: np.ndarray, now: np.ndarray, src: np.ndarray,
                latency: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Decide the rules of ``cols``; start those that run, and return those that end at
        once (skipped, upstream failed, a map's join) to be finished in turn."""
        plan = self.plan
        at = rows * self.width + cols
        packed = self.f_counts[at]
        succ, fail, skip, uf = (((packed >> np.uint64(16 * i)) & np.uint64(0xFFFF))
                                .astype(np.int64) for i in range(4))
        verdict = verdicts(plan.rule[cols], succ, fail, skip, uf, self.f_indeg[at])
        act = verdict != PENDING
        rows, cols, now, src, verdict, at = (rows[act], cols[act], now[act], src[act],
                                             verdict[act], at[act])
        self.f_decided[at] = True
        self.f_pred[at] = src
        run = verdict == RUN
        skip_draw = uniforms(self.seed, rows, cols, 0, SKIP) < self.skip_rate[cols]
        skipped = run & skip_draw & (plan.kind[cols] != ITEM)
        verdict[skipped] = SKIPPED
        run &= ~skipped
        ready = now[run] + latency + plan.delay[cols[run]]
        self.f_events[rows[run] * self.width + at[run]] = ready
        self.f_first_ready[at[run]] = ready
        ends = ~run
        delay = np.where(skipped, latency, 0.0)
        return rows[ends], cols[ends], (now + delay)[ends], verdict[ends].astype(np.int8)

    def _stop_siblings(self, rows: np.ndarray, cols: np.ndarray, now: np.ndarray,
                       outcome: np.ndarray) -> tuple[np.ndarray, ...] | None:
        """A failed item of a fail-fast map with ``max_parallel``: its siblings still
        waiting for the map's gate never start (the engine's ``stop``)."""
        plan = self.plan
        hit = ((plan.kind[cols] == ITEM) & plan.fail_fast[cols] & (plan.groups[cols, 2] >= 0)
               & ((outcome == FAILED) | (outcome == TIMED_OUT)))
        if not hit.any():
            return None
        found: list[tuple[int, int, float]] = []
        for r, col, t in zip(rows[hit], cols[hit], now[hit], strict=True):
            first = self.sibling_first[col]
            for sib in range(first, first + self.sibling_count[col]):
                if self.ready[r, sib] < np.inf and self.attempt[r, sib] == 0:
                    self.ready[r, sib] = np.inf
                    found.append((r, sib, t))
        if not found:
            return None
        r_, c_, t_ = (np.array(x) for x in zip(*found, strict=True))
        return r_, c_, t_, np.full(len(found), CANCELLED, dtype=np.int8)


def run_kernel(plan: Plan, inputs: Inputs, runs: int, seed: int,
               counts: dict[str, np.ndarray], show: bool | None = None) -> Raw:
    """Simulate ``runs`` runs of ``plan`` (a progress bar counts events where someone
    watches and it takes more than half a second)."""
    state = _State(plan, inputs, runs, seed, counts)
    state.start()
    rows = np.arange(runs)
    width = plan.columns + 1
    with progress(2 * runs * plan.columns, "simulating", unit="event", unit_scale=True,
                  show=show) as bar:
        while True:
            column = state.events.argmin(axis=1)
            now = state.events[rows, column]
            going = now < np.inf
            if not going.any():
                return _collect(state)
            bar.update(int(going.sum()))
            _step(state, rows, column, now, going, width)


def _step(state: _State, rows: np.ndarray, column: np.ndarray, now: np.ndarray,
          going: np.ndarray, width: int) -> None:
    ends = going & (column >= width)
    starts = going & ~ends
    if ends.any():
        state.complete(rows[ends], column[ends] - width, now[ends])
    if starts.any():
        state.dispatch(rows[starts], column[starts], now[starts])


def _collect(state: _State) -> Raw:
    plan = state.plan
    ended = state.ended[:, :-1]
    makespan = ended.max(axis=1) + state.latency.end
    failing = np.isin(state.outcome[:, :-1], _FAILING) & plan.fail_dag & (plan.kind != ITEM)
    critical = np.zeros((state.runs, state.node_count), dtype=bool)
    rows = np.arange(state.runs)
    current = ended.argmax(axis=1)
    alive = np.ones(state.runs, dtype=bool)
    for _ in range(plan.columns):
        critical[rows[alive], plan.node_of[current[alive]]] = True
        following = state.pred[rows, current]
        alive &= following >= 0
        if not alive.any():
            break
        current = np.where(alive, following, current)
    return Raw(makespan=makespan, failed=failing.any(axis=1), critical=critical,
               queue_wait=state.queue_wait, attempts=state.attempts, busy=state.busy)
