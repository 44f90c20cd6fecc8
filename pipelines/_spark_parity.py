"""Spark against one machine: a file seeded with bad accounts, and the comparison of outputs.

Used by ``python -m pipelines.benchmark spark --equality`` (the acceptance measurement on
a 20,000-account world) and by ``tests/spark`` (smaller worlds).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from risk_model import contract as C

# What each seeded account gets wrong, and the reject code one machine gives it.
KINDS = (
    ("negative_limit", "[not_positive]"),
    ("months_backwards", "[out_of_order]"),
    ("null_id", "[missing_value]"),
    ("nan_amount", "[not_finite]"),
    ("minimum_above_billed", "[minimum_above_billed]"),
    ("unknown_product", "[unknown_value]"),
    ("duplicate_id", "[duplicate_id]"),
    ("not_open", "[before_open]"),  # opened after the as-of date: its events come before
    ("event_after_as_of", "[after_as_of]"),
    ("null_statement", "[null_event]"),
)


def _relaxed(schema: pa.Schema) -> pa.Schema:
    """Every top-level field nullable (a bad file may hold nulls anywhere)."""
    return pa.schema([field.with_nullable(True) for field in schema])


def _spoil(row: dict, kind: str, as_of: dt.date, other_id: str) -> None:
    statements, transactions = row.get(C.STATEMENTS), row.get(C.TRANSACTIONS)
    if kind == "negative_limit":
        statements[0][C.CREDIT_LIMIT] = -5.0
    elif kind == "months_backwards":
        statements[0], statements[1] = statements[1], statements[0]
    elif kind == "null_id":
        row[C.ACCOUNT_ID] = None
    elif kind == "nan_amount":
        transactions[0][C.AMOUNT] = math.nan
    elif kind == "minimum_above_billed":
        statements[0][C.MINIMUM_DUE] = statements[0][C.BILLED_AMOUNT] + 100.0
    elif kind == "unknown_product":
        row[C.PRODUCT_VERSION] = "gold"
    elif kind == "duplicate_id":
        row[C.ACCOUNT_ID] = other_id
    elif kind == "not_open":
        row[C.OPEN_DATE] = as_of + dt.timedelta(days=31)
    elif kind == "event_after_as_of":
        transactions[-1][C.TS] = dt.datetime.combine(as_of, dt.time(12)) + dt.timedelta(days=40)
    elif kind == "null_statement":
        statements.insert(1, None)
    else:  # pragma: no cover
        raise ValueError(kind)


def seed_bad_accounts(
    table: pa.Table, count: int, as_of: dt.date, *, seed: int = 0
) -> tuple[pa.Table, dict[int, str]]:
    """Spoil ``count`` accounts spread over the table, cycling through :data:`KINDS`.

    Returns
    -------
    table : pyarrow.Table
        Same rows and order, top-level fields nullable; the spoiled rows replaced.
    spoiled : dict of int to str
        Row -> kind. A ``duplicate_id`` row takes the id of another (unspoiled) account,
        which is then rejected too.
    """
    rng = np.random.default_rng(seed)
    table = table.cast(_relaxed(table.schema))
    n = table.num_rows
    n_st = table[C.STATEMENTS].combine_chunks().value_lengths().to_numpy(zero_copy_only=False)
    if C.TRANSACTIONS in table.column_names:
        lengths = table[C.TRANSACTIONS].combine_chunks().value_lengths()
        n_tx = lengths.to_numpy(zero_copy_only=False)
    else:
        n_tx = np.zeros(n)
    order = rng.permutation(n)
    taken: set[int] = set()
    spoiled: dict[int, str] = {}
    partners: dict[int, int] = {}
    for i in range(count):
        kind = KINDS[i % len(KINDS)][0]
        needs_tx = kind in ("nan_amount", "event_after_as_of")
        needs_st = 2 if kind in ("months_backwards", "null_statement") else 1
        for row in order:
            row = int(row)
            if row in taken or (needs_tx and n_tx[row] < 1) or n_st[row] < needs_st:
                continue
            taken.add(row)
            spoiled[row] = kind
            if kind == "duplicate_id":
                partner = next(int(r) for r in order[::-1] if int(r) not in taken)
                taken.add(partner)
                partners[row] = partner
            break
        else:  # pragma: no cover
            raise ValueError(f"no account fits {kind}")
    rows = sorted(spoiled)
    records = table.take(pa.array(rows)).to_pylist()
    ids = table[C.ACCOUNT_ID]
    for record, row in zip(records, rows, strict=True):
        other = ids[partners[row]].as_py() if row in partners else ""
        _spoil(record, spoiled[row], as_of, other)
    bad = pa.Table.from_pylist(records, schema=table.schema)
    index = np.arange(n)
    index[rows] = n + np.arange(len(rows))
    return pa.concat_tables([table, bad]).take(pa.array(index)), spoiled


def _read(path: Path | str) -> pa.Table:
    """Read a parquet file or a Spark dataset folder."""
    return pq.read_table(str(path))


def compare(
    local_scores: Path, local_rejects: Path, spark_scores: Path, spark_rejects: Path
) -> dict:
    """Compare one machine's scores and rejects with Spark's, account by account.

    Returns
    -------
    dict
        ``accounts`` scored by both, ``max_abs_probability_difference``,
        ``probability_exact`` (share of bit-equal probabilities), mismatches of
        ``points``, ``band``, ``reasons``, ``top_cause``, ``model_version``, ``as_of``,
        ``missing`` / ``extra`` scored accounts, and for rejects: ``rejects`` (one
        machine's count), ``rejects_equal`` (same (account_id, row, reason) rows).
    """
    a = _read(local_scores).sort_by(C.ACCOUNT_ID)
    b = _read(spark_scores).sort_by(C.ACCOUNT_ID)
    ids_a, ids_b = a[C.ACCOUNT_ID].to_pylist(), b[C.ACCOUNT_ID].to_pylist()
    out: dict = {
        "accounts": a.num_rows,
        "missing": len(set(ids_a) - set(ids_b)),
        "extra": len(set(ids_b) - set(ids_a)),
    }
    if ids_a == ids_b:
        pa_, pb = (t["probability"].to_numpy() for t in (a, b))
        out["max_abs_probability_difference"] = float(np.max(np.abs(pa_ - pb), initial=0.0))
        out["probability_exact"] = float(np.mean(pa_ == pb)) if len(pa_) else 1.0
        for name in ("points", "band", "reasons", "top_cause", "model_version", "as_of"):
            out[f"{name}_mismatches"] = sum(
                x != y for x, y in zip(a[name].to_pylist(), b[name].to_pylist(), strict=True)
            )
    ra, rb = _read(local_rejects), _read(spark_rejects)

    def key(t: pa.Table) -> list[tuple]:
        return sorted(
            zip(
                t[C.ACCOUNT_ID].to_pylist(),
                t["row"].to_pylist(),
                t["reason"].to_pylist(),
                strict=True,
            ),
            key=lambda r: (r[1], r[0] or "", r[2]),
        )

    out["rejects"] = ra.num_rows
    out["spark_rejects"] = rb.num_rows
    out["rejects_equal"] = key(ra) == key(rb)
    return out


def equal(report: dict) -> bool:
    """Whether :func:`compare` found the outputs equal (probabilities within 1e-12)."""
    return (
        report["missing"] == 0
        and report["extra"] == 0
        and report.get("max_abs_probability_difference", 1.0) <= 1e-12
        and all(report.get(f"{n}_mismatches", 1) == 0 for n in ("band", "reasons", "top_cause"))
        and report["rejects_equal"]
    )
