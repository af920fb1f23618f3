"""A flush of new entities only, one multi-row INSERT per table (issue 11).

SQLAlchemy's unit of work plans every flush: it builds the graph of the mappers' and
relationships' dependencies, looks for cycles in it, sorts it, and walks each state through
its save actions. For a new customer's five entities that plan is most of the flush's cost,
and the flush two fifths of a start. The rows themselves need far less:

- the domain gives every entity its id and its foreign keys (cosmicpython style: no
  relationship sets a column), so nothing is synchronized at flush;
- the tables' own foreign keys order them (`MetaData.sorted_tables`).

`insert_new` writes such a flush itself: the same rows, with the same values, as SQLAlchemy
would (a value of None left to the column's default, a version column numbered by the
mapper's generator), in table order, then makes the entities persistent as a flush does
(`Session._register_persistent`: in the identity map, their state committed, and expunged
again if the transaction rolls back). It declines, leaving the flush to SQLAlchemy, when
anything asks for more than that: a changed or deleted entity in the session, a savepoint,
a listener of a mapper's inserts, a mapper with inheritance, several tables or a
self-referencing table, a column value that is a SQL expression, a column whose default
the database or the mapper would have to supply, or a relationship whose foreign key the
domain left unset or set otherwise (decision 0021).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Insert, Table, bindparam, func, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.base import MANYTOONE, ONETOMANY
from sqlalchemy.orm.state import InstanceState

from trialhub.store.dialect import COPY_FROM, POSTGRESQL, insert_many, name_of


@dataclass(frozen=True, slots=True)
class _Link:
    """A relationship as pairs of attribute keys, (the parent's, the child's): the rows
    agree when each child's value equals its parent's."""

    key: str
    pairs: tuple[tuple[str, str], ...]
    parent: bool  # this entity is the parent (one-to-many), else the child (many-to-one)
    uselist: bool  # the attribute holds a collection


@dataclass(frozen=True, slots=True)
class _Plan:
    """What writing one mapper's new entities takes, computed once per mapper."""

    table: Table
    order: int  # the table's place in the foreign keys' order
    columns: tuple[tuple[str, str], ...]  # (attribute key, column key), version excluded
    defaulted: frozenset[str]  # attributes whose absence the database would fill
    evaluates_none: frozenset[str]  # attributes whose None is a value (JSON null)
    version: tuple[str, str] | None  # (attribute key, column key) of the version counter
    next_version: Callable[[Any], Any] | None  # the mapper's version generator
    pks: frozenset[str]  # attribute keys
    numbered: str | None  # the attribute of an id the database numbers, if it has one
    links: tuple[_Link, ...]


_plans: dict[Mapper[Any], _Plan | None] = {}


Rows = list[tuple[Table, list[dict[str, Any]]]]
_AT_FLUSH = "trialhub.rows_at_flush"


def insert_at_flush(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Rows of one table (all with the same keys) written with the unit of work's next
    flush, after its new entities: on PostgreSQL in the same statement as they are (a
    commit's hooks add a new customer's status rows and a new trial's deadlines, two round
    trips of a start, issue 11). Only for rows nothing reads before that flush, and whose
    ids nobody needs. Inside a savepoint they are written at once: a savepoint rolled back
    must take them along."""
    if not rows:
        return
    if session.in_nested_transaction():
        insert_many(session, table, rows)
        return
    session.info.setdefault(_AT_FLUSH, []).append((table, [dict(r) for r in rows]))


def take_rows_at_flush(session: Session) -> Rows:
    """The rows `insert_at_flush` holds for the next flush, which writes them (or the
    transaction is rolled back)."""
    taken: Rows = session.info.pop(_AT_FLUSH, [])
    return taken


def write_rows(session: Session, rows: Rows) -> None:
    """Held rows written a table at a time, where the one statement does not take them."""
    with session.no_autoflush:
        for table, held in rows:
            insert_many(session, table, held)


def drop_rows_at_flush(session: Session) -> None:
    """A rollback: the rows held for the flush never happened."""
    session.info.pop(_AT_FLUSH, None)


@dataclass(slots=True)
class Numbered:
    """Rows of one table (all with the same keys) whose ids the database numbers and the
    caller needs: the audit rows, whose ids name the webhooks' messages (rule E2). On
    PostgreSQL they join the flush's one statement, last, and `ids` holds their ids in the
    rows' order; otherwise `ids` stays None and the caller writes them."""

    table: Table
    rows: list[dict[str, Any]]
    ids: list[int] | None = None


def insert_new(
    session: Session, rows: Rows | None = None, returning: Numbered | None = None
) -> bool:
    """Writes the session's new entities if it holds nothing else to flush, then `rows`,
    and says whether it did (False: nothing was written, the caller flushes as usual and
    writes `rows` itself). `returning` joins them when they go in as one statement."""
    pending = list(session.new)
    if not pending or session.deleted or session.dirty or session.in_nested_transaction():
        return False  # a savepoint's failed flush rolls back to it: SQLAlchemy's to do
    states: list[tuple[InstanceState[Any], _Plan, dict[str, Any]]] = []
    for obj in pending:
        state = instance_state(obj)
        plan = _plan_of(state.mapper)
        if plan is None or _listened(state.mapper):
            return False
        params = _params(plan, state.dict)
        if params is None or not _consistent(plan, state.dict):
            return False
        states.append((state, plan, params))
    states.sort(key=lambda s: s[1].order)  # stable: within a table, in the order added
    batches: dict[tuple[Table, bool], list[tuple[InstanceState[Any], _Plan, dict[str, Any]]]]
    batches = {}
    for state, plan, params in states:
        numbered = plan.numbered is not None and "id" not in params
        batches.setdefault((plan.table, numbered), []).append((state, plan, params))
    rows = rows or []
    ids_of = _in_one_statement(session, batches, rows, returning)
    for (table, numbered), batch in batches.items():
        if ids_of is not None:
            ids = ids_of.get(table, [])
        else:
            with session.no_autoflush:  # the flush is this
                ids = insert_many(session, table, [p for _, _, p in batch], ids=numbered)
        for i, (state, plan, params) in enumerate(batch):
            if numbered:
                assert plan.numbered is not None
                state.dict[plan.numbered] = ids[i]
            if plan.version is not None:
                key, column = plan.version
                state.dict[key] = params[column]
    # what a flush does with the states it inserted: identity keys, the identity map, the
    # committed state, and the transaction's list of what a rollback expunges
    session._register_persistent({s for s, _, _ in states})
    if ids_of is None:
        write_rows(session, rows)
    return True


def _in_one_statement(
    session: Session,
    batches: dict[tuple[Table, bool], list[tuple[InstanceState[Any], _Plan, dict[str, Any]]]],
    rows: Rows,
    returning: Numbered | None = None,
) -> dict[Table, list[int]] | None:
    """On PostgreSQL, the new entities and the rows held for the flush (`insert_at_flush`)
    as one statement: an INSERT a table, all but the last as data-modifying CTEs (foreign
    keys are checked at the statement's end). One round trip where a new customer's start
    made eight, and one statement SQLAlchemy caches by its shape. A table's several rows
    go in in their order, from arrays (`_rows_insert`): a trial's services, all added at
    one instant, are read back in the order they were added. Ids the database numbers
    come back for one entity at most, the last INSERT's (its RETURNING). None, nothing
    written, when it does not fit: `insert_many` a table each then."""
    count = len(batches) + len(rows) + (1 if returning is not None and returning.rows else 0)
    if name_of(session) != POSTGRESQL or not 2 <= count <= _ONE_STATEMENT_PARTS:
        return None
    sizes = [len(batch) for batch in batches.values()] + [len(held) for _, held in rows]
    sizes += [len(returning.rows)] if returning is not None else []
    if max(sizes) >= COPY_FROM:
        return None
    numbered = [(table, batch) for (table, n), batch in batches.items() if n]
    if len(numbered) > 1 or any(len(batch) > 1 for _, batch in numbered):
        return None
    # the entities first (the rows refer to them), the numbered one last (its RETURNING);
    # a part's values: one row's, or several rows' as a list a column
    groups = [(table, [p for _, _, p in batch]) for (table, n), batch in batches.items() if not n]
    groups += rows
    parts: list[tuple[Table, bool, bool, dict[str, Any]]] = [
        (table, False, False, group[0])
        if len(group) == 1
        else (table, False, True, {key: [row[key] for row in group] for key in group[0]})
        for table, group in groups
    ]
    parts += [(table, True, False, batch[0][2]) for table, batch in numbered]
    if returning is not None and returning.rows:
        # last: its ids come back, with the numbered entity's beside each (a CTE's RETURNING)
        first = returning.rows[0]
        columns = {key: [row[key] for row in returning.rows] for key in first}
        parts.append((returning.table, True, True, columns))
    shape = tuple((table, tuple(cols), n, several) for table, n, several, cols in parts)
    values = {
        f"r{k}_{key}": v for k, (_, _, _, cols) in enumerate(parts) for key, v in cols.items()
    }
    with session.no_autoflush:  # the flush is this
        executed = session.execute(_statement(shape), values)
    if not shape[-1][2]:
        return {}  # nothing numbered: no RETURNING
    result = executed.all()
    if returning is not None and returning.rows:
        # one multi-row INSERT numbers its rows in their order: the ids sorted are theirs
        returning.ids = sorted(int(row[0]) for row in result)
        return {numbered[0][0]: [int(result[0][1])]} if numbered else {}
    return {numbered[0][0]: [int(result[0][0])]}


_ONE_STATEMENT_PARTS = 20


@functools.lru_cache(maxsize=128)
def _statement(shape: tuple[tuple[Table, tuple[str, ...], bool, bool], ...]) -> Insert:
    """The one statement of `_in_one_statement` for parts of this shape (table, columns,
    numbered, several rows), with a parameter `r<part>_<column>` for each value. Several
    rows go in from arrays, one a column, zipped by `unnest` in their order: a statement of
    the same text whatever their number, which SQLAlchemy caches (a multi-row VALUES it
    compiles again at every execution). A numbered part returns its ids: the last one in
    the statement's RETURNING, one before it (a single row) beside them."""

    def one(k: int, table: Table, keys: tuple[str, ...], several: bool) -> Insert:
        if several:
            return _rows_insert(table, keys, k)
        return insert(table).values(
            {key: bindparam(f"r{k}_{key}", type_=table.c[key].type) for key in keys}
        )

    *before, (last, last_keys, last_numbered, last_several) = shape
    ctes = []
    returned = []
    for k, (table, keys, numbered, several) in enumerate(before):
        stmt = one(k, table, keys, several)
        if numbered:
            stmt = stmt.returning(table.c.id)
        cte = stmt.cte(f"insert_{k}")
        ctes.append(cte)
        if numbered:
            returned.append(select(cte.c.id).scalar_subquery())
    main = one(len(before), last, last_keys, last_several)
    if last_numbered:
        main = main.returning(last.c.id, *returned)
    return main.add_cte(*ctes)


def _rows_insert(table: Table, keys: tuple[str, ...], k: int) -> Insert:
    """INSERT INTO table (keys) SELECT unnest(:r<k>_<key>), ...: PostgreSQL zips the arrays,
    and the rows go in in their order (a serial id numbers them in it)."""
    arrays = [
        func.unnest(bindparam(f"r{k}_{key}", type_=postgresql.ARRAY(table.c[key].type)))
        for key in keys
    ]
    return insert(table).from_select(list(keys), select(*arrays))


def _listened(mapper: Mapper[Any]) -> bool:
    """Whether something listens to the mapper's inserts: only a flush calls it."""
    events = mapper.dispatch
    return bool(events.before_insert or events.after_insert)


def _params(plan: _Plan, values: dict[str, Any]) -> dict[str, Any] | None:
    """The INSERT's values, as SQLAlchemy's flush makes them; None to decline."""
    params: dict[str, Any] = {}
    for key, column in plan.columns:
        if key == plan.numbered and values.get(key) is None:
            continue  # the database numbers it
        if key in values:
            value = values[key]
            if value is None and key not in plan.evaluates_none:
                if key in plan.defaulted or key in plan.pks:
                    return None  # left to a default, which SQLAlchemy would then read
            elif hasattr(value, "__clause_element__"):
                return None  # a SQL expression, evaluated by the database
        elif key in plan.defaulted or key in plan.evaluates_none or key in plan.pks:
            return None
        else:
            value = None
        params[column] = value
    if plan.version is not None:
        assert plan.next_version is not None
        params[plan.version[1]] = plan.next_version(None)  # what a flush numbers it
    return params


def _consistent(plan: _Plan, values: dict[str, Any]) -> bool:
    """Every related entity the state holds agrees with the foreign keys as set."""
    for link in plan.links:
        related = values.get(link.key)
        if related is None:
            continue
        for other in related if link.uselist else (related,):
            theirs = instance_state(other).dict
            parent, child = (values, theirs) if link.parent else (theirs, values)
            for parent_key, child_key in link.pairs:
                value = parent.get(parent_key)
                if value is None or child.get(child_key) != value:
                    return False
    return True


def _plan_of(mapper: Mapper[Any]) -> _Plan | None:
    if mapper not in _plans:
        _plans[mapper] = _make_plan(mapper)
    return _plans[mapper]


def _make_plan(mapper: Mapper[Any]) -> _Plan | None:
    table = mapper.local_table
    if (
        mapper.inherits is not None
        or len(mapper.tables) != 1
        or not isinstance(table, Table)
        or any(fk.column.table is table for fk in table.foreign_keys)
        or (mapper.version_id_col is not None and mapper.version_id_generator is False)
        or any(getattr(mapper, "_insert_orm_defaults", {}).get(table, ()))
    ):
        return None
    version_col = mapper.version_id_col
    columns: list[tuple[str, str]] = []
    defaulted: set[str] = set()
    evaluates_none: set[str] = set()
    for prop in mapper.column_attrs:
        if len(prop.columns) != 1 or prop.columns[0].table is not table:
            return None
        column = prop.columns[0]
        if column is version_col:
            continue
        columns.append((prop.key, str(column.key)))
        if isinstance(column, Column) and (
            column.default is not None or column.server_default is not None
        ):
            defaulted.add(prop.key)
        if column.type.should_evaluate_none:
            evaluates_none.add(prop.key)
    links: list[_Link] = []
    for rel in mapper.relationships:
        if rel.viewonly:
            continue
        this_parent = rel.direction is ONETOMANY
        if (
            rel.secondary is not None
            or rel.post_update
            or rel.direction not in (ONETOMANY, MANYTOONE)
            or (rel.uselist and not this_parent)
        ):
            return None
        parent, child = (mapper, rel.mapper) if this_parent else (rel.mapper, mapper)
        pairs = tuple(
            (
                parent.get_property_by_column(parent_col).key,
                child.get_property_by_column(child_col).key,
            )
            for parent_col, child_col in rel.synchronize_pairs
        )
        links.append(_Link(rel.key, pairs, this_parent, bool(rel.uselist)))
    numbered = None
    auto = table.autoincrement_column
    if auto is not None and auto.key == "id" and list(table.primary_key.columns) == [auto]:
        numbered = mapper.get_property_by_column(auto).key
    version, next_version = None, None
    if version_col is not None:
        version = (mapper.get_property_by_column(version_col).key, str(version_col.key))
        next_version = mapper.version_id_generator or None
    return _Plan(
        table=table,
        order=table.metadata.sorted_tables.index(table),
        columns=tuple(columns),
        defaulted=frozenset(defaulted),
        evaluates_none=frozenset(evaluates_none),
        version=version,
        next_version=next_version,
        pks=frozenset(mapper.get_property_by_column(c).key for c in mapper.primary_key),
        links=tuple(links),
        numbered=numbered,
    )
