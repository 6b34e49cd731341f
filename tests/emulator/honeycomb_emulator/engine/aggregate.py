"""SQL that aggregates planned event rows per group (and per series bucket).

Definitions (see README.md): COUNT/SUM/AVG and percentiles are weighted by sample rate; a
percentile is the nearest rank on the weighted distribution: the smallest value v whose cumulative
weight reaches p * total weight (p as an exact fraction, compared in integers). MIN, MAX and
COUNT_DISTINCT ignore sample rates. HEATMAP, CONCURRENCY and RATE_* are documented approximations.
"""

from __future__ import annotations

from typing import Literal

from .calculated import as_number
from .ops import PERCENTILES
from .plan import CalcPlan, QueryPlan

HEATMAP_BUCKETS = 20
# Largest sum of sample rates for which percentiles expand rows instead of using a window.
EXPAND_LIMIT = 20_000_000

PercentileMode = Literal["unweighted", "expand", "window"]


def _num(calc: CalcPlan) -> str:
    assert calc.input is not None
    return as_number((calc.input, calc.kind))


def _simple(calc: CalcPlan) -> str | None:
    """The aggregate expression for ops computable in one GROUP BY pass, else None."""
    op = calc.op
    # Counting or summing nothing is 0 (so havings and orders see 0 too); other ops give null.
    if op == "COUNT":
        return "COALESCE(sum(sr), 0)"
    if op == "SUM":
        return f"COALESCE(sum(({_num(calc)}) * sr), 0)"
    if op == "AVG":
        value = _num(calc)
        return f"sum(({value}) * sr) / sum(CASE WHEN ({value}) IS NOT NULL THEN sr END)"
    if op == "COUNT_DISTINCT":
        return f"count(DISTINCT {calc.input})"
    if op in ("MAX", "MIN"):
        return f"{op.lower()}({_num(calc)})"
    if op == "RATE_AVG":
        return f"sum({calc.rate} * sr) / sum(CASE WHEN {calc.rate} IS NOT NULL THEN sr END)"
    if op == "RATE_SUM":
        return f"COALESCE(sum({calc.rate} * sr), 0)"
    if op == "RATE_MAX":
        return f"max({calc.rate})"
    return None


def _on(keys: list[str], left: str, right: str) -> str:
    if not keys:
        return "TRUE"
    return " AND ".join(f"{left}.{k} IS NOT DISTINCT FROM {right}.{k}" for k in keys)


def _group_by(keys: list[str]) -> str:
    return f" GROUP BY {', '.join(keys)}" if keys else ""


def _partition(keys: list[str]) -> str:
    return f"PARTITION BY {', '.join(keys)} " if keys else ""


def percentile_mode(max_samplerate: int, total_weight: int) -> PercentileMode:
    """How to compute weighted percentiles for data with these sample-rate statistics.

    DuckDB's ``quantile_disc`` is exactly the nearest rank (checked in the tests), so unweighted data
    uses it directly and sampled data uses it on rows repeated ``samplerate`` times, which is ~10x
    faster than a running-sum window. Only when that expansion would be huge does the window run.
    """
    if max_samplerate <= 1:
        return "unweighted"
    if total_weight <= EXPAND_LIMIT:
        return "expand"
    return "window"


def aggregate_sql(plan: QueryPlan, source: str, keys: list[str], mode: PercentileMode = "window") -> str:
    """Rows of (keys..., __n, a0, a1, ...) over ``source`` grouped by ``keys``.

    ``keys`` are group aliases, plus ``b`` for series buckets. ``__n`` is positive when the row has
    data (the number of events, plus spans in flight for CONCURRENCY series), so an empty ungrouped
    aggregate (one row of nulls) can be told apart from a real one. ``mode`` says how
    percentiles are computed (see ``percentile_mode``); all three give the same values.
    """
    key_list = ", ".join(keys)
    lead = f"{key_list}, " if keys else ""
    ctes = [f"src AS ({source})"]
    main = [f"{lead}count(*) AS __n"]
    joins: list[tuple[str, list[str]]] = []  # (cte name, its aggregate aliases)
    percentile_inputs: dict[str, list[CalcPlan]] = {}
    for calc in plan.calcs:
        simple = _simple(calc)
        if simple is not None:
            main.append(f"{simple} AS {calc.alias}")
        elif calc.op in PERCENTILES:
            percentile_inputs.setdefault(calc.input or "", []).append(calc)

    if mode == "unweighted":
        for calcs in percentile_inputs.values():
            main += [f"quantile_disc({_num(c)}, {float(PERCENTILES[c.op])!r}) AS {c.alias}" for c in calcs]
        percentile_inputs = {}
    elif mode == "expand" and percentile_inputs:
        picks = [
            f"quantile_disc({_num(c)}, {float(PERCENTILES[c.op])!r}) AS {c.alias}"
            for calcs in percentile_inputs.values()
            for c in calcs
        ]
        ctes.append(
            f"pexp AS (SELECT {lead}{', '.join(picks)} FROM src, range(sr) AS copies{_group_by(keys)})"
        )
        joins.append(("pexp", [c.alias for calcs in percentile_inputs.values() for c in calcs]))
        percentile_inputs = {}
    ctes.append(f"main AS (SELECT {', '.join(main)} FROM src{_group_by(keys)})")

    for n, calcs in enumerate(percentile_inputs.values()):
        value = _num(calcs[0])
        picks = []
        for calc in calcs:
            p = PERCENTILES[calc.op]
            reached = f"cw * {p.denominator} >= tw * {p.numerator}"
            picks.append(f"min(v) FILTER (WHERE {reached}) AS {calc.alias}")
        ranked = (
            f"SELECT {lead}v, sum(sr) OVER ({_partition(keys)}ORDER BY v ROWS BETWEEN UNBOUNDED PRECEDING "
            f"AND CURRENT ROW) AS cw, sum(sr) OVER ({_partition(keys)}) AS tw "
            f"FROM (SELECT {lead}({value}) AS v, sr FROM src) AS vs WHERE v IS NOT NULL"
        )
        ctes.append(f"pct{n} AS (SELECT {lead}{', '.join(picks)} FROM ({ranked}) AS r{_group_by(keys)})")
        joins.append((f"pct{n}", [c.alias for c in calcs]))

    for calc in plan.calcs:
        if calc.op == "HEATMAP":
            name = f"hm_{calc.alias}"
            ctes.append(f"{name} AS ({_heatmap_sql(calc, keys, lead)})")
            joins.append((name, [calc.alias]))
        elif calc.op == "CONCURRENCY":
            name = f"cc_{calc.alias}"
            ctes.append(f"{name} AS ({_concurrency_sql(plan, calc, keys)})")
            joins.append((name, [calc.alias]))

    # Series buckets come from the events that start in them, plus, for CONCURRENCY, the buckets
    # that spans started earlier are still in flight in.
    in_flight = [(name, aliases[0]) for name, aliases in joins if name.startswith("cc_")]
    driver, has_data = "main", "main.__n"
    if in_flight and "b" in keys:
        ctes.append(
            "driver AS ("
            + " UNION ".join(
                f"SELECT {key_list} FROM {name}" for name in ["main", *(n for n, _ in in_flight)]
            )
            + ")"
        )
        driver = "driver"
        has_data = " + ".join(["COALESCE(main.__n, 0)", *(f"COALESCE({n}.{a}, 0)" for n, a in in_flight)])
        joins.insert(0, ("main", []))

    select = [f"{driver}.{k}" for k in keys] + [f"{has_data} AS __n"]
    for calc in plan.calcs:
        owner = next((name for name, aliases in joins if calc.alias in aliases), "main")
        select.append(f"{owner}.{calc.alias}")
    from_sql = driver + "".join(f" LEFT JOIN {name} ON {_on(keys, driver, name)}" for name, _ in joins)
    return f"WITH {', '.join(ctes)} SELECT {', '.join(select)} FROM {from_sql}"


def _heatmap_sql(calc: CalcPlan, keys: list[str], lead: str) -> str:
    value = _num(calc)
    part = _partition(keys)
    index = f"CAST(floor((v - mn) / ((mx - mn) / {HEATMAP_BUCKETS})) AS BIGINT)"
    bucketed = (
        f"SELECT {lead}mn, mx, CASE WHEN mx = mn THEN 0 ELSE least({index}, {HEATMAP_BUCKETS - 1}) END AS i, "
        f"sr FROM (SELECT {lead}v, sr, min(v) OVER ({part}) AS mn, max(v) OVER ({part}) AS mx "
        f"FROM (SELECT {lead}({value}) AS v, sr FROM src) AS vs WHERE v IS NOT NULL) AS w"
    )
    counted = (
        f"SELECT {lead}any_value(mn) AS mn, any_value(mx) AS mx, i, sum(sr) AS c "
        f"FROM ({bucketed}) AS hb GROUP BY {lead}i"
    )
    return (
        f"SELECT {lead}struct_pack(min_value := any_value(mn), max_value := any_value(mx), "
        f"buckets := list(struct_pack(i := i, c := c))) AS {calc.alias} "
        f"FROM ({counted}) AS hc{_group_by(keys)}"
    )


def _concurrency_sql(plan: QueryPlan, calc: CalcPlan, keys: list[str]) -> str:
    # Each event is a span [t, t + duration_ms); it is "in flight" in every series bucket it overlaps.
    # Per bucket the value is the (weighted) number of such spans; over the whole window, the maximum
    # of the buckets.
    groups = [k for k in keys if k != "b"]
    lead = "".join(f"{g}, " for g in groups)
    end_bucket = f"CAST(floor((t + coalesce(d, 0) / 1000.0 - {plan.start}) / {plan.granularity}) AS BIGINT)"
    last_bucket = f"least(greatest(b, {end_bucket}), {plan.buckets - 1})"
    per_bucket = (
        f"SELECT {lead}bb AS b, sum(sr) AS {calc.alias} "
        f"FROM (SELECT {lead}sr, unnest(range(b, {last_bucket} + 1)) AS bb FROM src) AS spans "
        f"GROUP BY {lead}bb"
    )
    if "b" in keys:
        return per_bucket
    return f"SELECT {lead}max({calc.alias}) AS {calc.alias} FROM ({per_bucket}) AS pb{_group_by(groups)}"
