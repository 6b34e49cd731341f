"""Relational fields: columns of other spans in the same trace (``root.``, ``parent.``, ``any.`` ...).

Spans are linked by ``trace.trace_id``, ``trace.span_id`` and ``trace.parent_id`` (Honeycomb's
default trace fields); a span without ``trace.parent_id`` is a root. Only spans inside the query
window are seen, so a root that started before the window is unknown (its fields read as null).

- ``root.X`` / ``parent.X``: the value of X on the trace's root span / on the span's parent; usable
  anywhere a column is (breakdowns, calculations, filters).
- ``any.X`` (and ``any2.``/``any3.``, independent conditions), ``none.X``, ``child.X``: only in
  filters; the event matches when some span of its trace (``any``), no span of its trace
  (``none``) or one of its own child spans (``child``) satisfies the filter on X.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TRACE_ID = "trace.trace_id"
SPAN_ID = "trace.span_id"
PARENT_ID = "trace.parent_id"

LOOKUPS = ("root", "parent")
EXISTENTIALS = ("any", "any2", "any3", "none", "child")


def split(name: str) -> tuple[str, str] | None:
    """(relation, base column) for a relational column name, else None."""
    relation, dot, base = name.partition(".")
    if dot and base and relation in (*LOOKUPS, *EXISTENTIALS):
        return relation, base
    return None


@dataclass
class TraceColumns:
    """SQL aliases of the trace fields in the events relation (None: the dataset lacks them)."""

    trace_id: str | None
    span_id: str | None
    parent_id: str | None


@dataclass
class Relations:
    """Collects what a query needs from other spans and renders it as SQL."""

    trace: TraceColumns
    lookups: dict[str, dict[str, str]] = field(default_factory=lambda: {r: {} for r in LOOKUPS})

    def lookup(self, relation: str, alias: str) -> str | None:
        """The SQL name of column ``alias`` read from the root/parent span, or None if unknowable."""
        if self.trace.trace_id is None or (relation == "parent" and self.trace.span_id is None):
            return None
        exposed = f"{relation}_{alias}"
        self.lookups[relation][alias] = exposed
        return exposed

    def existential(self, relation: str, positive: str) -> str:
        """A predicate: does some span related to the event by ``relation`` satisfy ``positive``?"""
        tid, sid, pid = self.trace.trace_id, self.trace.span_id, self.trace.parent_id
        if relation == "child":
            if tid is None or sid is None or pid is None:
                return "FALSE"
            return (
                f"EXISTS (SELECT 1 FROM events AS kin WHERE kin.{tid} = events.{tid} "
                f"AND kin.{pid} = events.{sid} AND {positive})"
            )
        if tid is None:
            return "TRUE" if relation == "none" else "FALSE"
        found = f"COALESCE(events.{tid} IN (SELECT {tid} FROM events AS kin WHERE {positive}), FALSE)"
        return f"(NOT {found})" if relation == "none" else found

    def ctes(self) -> list[str]:
        tid, sid, pid = self.trace.trace_id, self.trace.span_id, self.trace.parent_id
        out = []
        roots = self.lookups["root"]
        if roots:
            picked = ", ".join(f"any_value({alias}) AS {exposed}" for alias, exposed in roots.items())
            is_root = f"{pid} IS NULL" if pid is not None else "TRUE"
            out.append(
                f"root_span AS (SELECT {tid} AS __root_tid, {picked} FROM events "
                f"WHERE {tid} IS NOT NULL AND {is_root} GROUP BY {tid})"
            )
        parents = self.lookups["parent"]
        if parents:
            picked = ", ".join(f"any_value({alias}) AS {exposed}" for alias, exposed in parents.items())
            out.append(
                f"parent_span AS (SELECT {tid} AS __parent_tid, {sid} AS __parent_sid, {picked} FROM events "
                f"WHERE {tid} IS NOT NULL AND {sid} IS NOT NULL GROUP BY {tid}, {sid})"
            )
        return out

    def joins(self) -> str:
        tid, pid = self.trace.trace_id, self.trace.parent_id
        sql = ""
        if self.lookups["root"]:
            sql += f" LEFT JOIN root_span ON events.{tid} = root_span.__root_tid"
        if self.lookups["parent"]:
            parent_of = f"events.{pid}" if pid is not None else "NULL"
            sql += (
                f" LEFT JOIN parent_span ON events.{tid} = parent_span.__parent_tid "
                f"AND {parent_of} = parent_span.__parent_sid"
            )
        return sql
