"""The scoring command on valid-but-awkward files and hostile surroundings.

Row groups that do not line up with the batches, ids stored as dictionaries, accounts with
too many events, a disk that fills up, signals, and output paths that are not files.
"""

import copy

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import pipelines.score as S
from pipelines._reading import numbered_batches, open_input
from risk_model import contract as C

N = 24


@pytest.fixture(scope="module")
def table(model):
    rows = model.histories.slice(0, N).to_pylist()
    return pa.Table.from_pylist(rows, schema=C.HISTORY_SCHEMA)


def _run(model, path, out_dir, *extra):
    out, rejects = out_dir / "s.scores.parquet", out_dir / "s.rejects.parquet"
    argv = [str(path), "--model", str(model.artefact), "--as-of", model.as_of.isoformat()]
    code = S.main([*argv, "--out", str(out), "--rejects", str(rejects), *extra])
    return code, out, rejects


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def reference(model, table, tmp_path_factory):
    """Output of the plain file: one row group, one batch."""
    folder = tmp_path_factory.mktemp("reference")
    pq.write_table(table, folder / "in.parquet")
    code, out, rejects = _run(model, folder / "in.parquet", folder, "--workers", "1")
    assert code == 0
    return out.read_bytes(), rejects.read_bytes()


# (row group size, --batch-rows, --workers): misaligned, aligned (the twin), 1 and primes
LAYOUTS = [
    (5, "7", "2"),
    (5, "1", "1"),
    (7, "13", "2"),
    (3, "10000", "1"),
    (11, "4", "3"),
    (8, "8", "2"),  # aligned: the layout that always worked
]


@pytest.mark.parametrize(("group", "batch", "workers"), LAYOUTS)
def test_row_groups_misaligned_with_batches_score_byte_identically(
    model, table, reference, tmp_path, group, batch, workers
):
    path = tmp_path / "in.parquet"
    pq.write_table(table, path, row_group_size=group)
    assert pq.ParquetFile(path).metadata.num_row_groups == -(-N // group)
    code, out, rejects = _run(model, path, tmp_path, "--batch-rows", batch, "--workers", workers)
    assert code == 0
    assert (out.read_bytes(), rejects.read_bytes()) == reference


@pytest.mark.parametrize(("group", "batch"), [(5, 7), (5, 1), (24, 7), (3, 24), (7, 100)])
def test_batches_hold_batch_rows_accounts_whatever_the_row_groups(table, tmp_path, group, batch):
    path = tmp_path / "in.parquet"
    pq.write_table(table, path, row_group_size=group)
    batches = list(numbered_batches(open_input(path), batch, table.schema.names))
    sizes = [t.num_rows for _, t in batches]
    assert sizes == [batch] * (N // batch) + ([N % batch] if N % batch else [])
    assert [start for start, _ in batches] == [i * batch for i in range(len(batches))]
    joined = pa.concat_tables([t for _, t in batches])
    assert joined[C.ACCOUNT_ID].to_pylist() == table[C.ACCOUNT_ID].to_pylist()


def _recoded(name, kind):
    def build(table):
        index = table.schema.get_field_index(name)
        column = table[name]
        new = pc.dictionary_encode(column) if kind == "dictionary" else column.cast(kind)
        return table.set_column(index, name, new)

    return build


def _dictionary_kinds(table):
    lists = table[C.TRANSACTIONS].combine_chunks()
    items = lists.values
    fields = [items.field(i) for i in range(items.type.num_fields)]
    names = [items.type.field(i).name for i in range(items.type.num_fields)]
    fields[names.index(C.KIND)] = pc.dictionary_encode(fields[names.index(C.KIND)])
    struct = pa.StructArray.from_arrays(fields, names=names)
    column = pa.ListArray.from_arrays(lists.offsets, struct)
    return table.set_column(table.schema.get_field_index(C.TRANSACTIONS), C.TRANSACTIONS, column)


# (kind of encoding, table builder)
ENCODINGS = [
    ("dictionary account_id", _recoded(C.ACCOUNT_ID, "dictionary")),
    ("large_string account_id", _recoded(C.ACCOUNT_ID, pa.large_string())),
    ("dictionary product_version", _recoded(C.PRODUCT_VERSION, "dictionary")),
    ("dictionary transaction kind", _dictionary_kinds),
    ("plain (twin)", lambda table: table),
]


@pytest.mark.parametrize("group", [None, 5])
@pytest.mark.parametrize(("kind", "build"), ENCODINGS, ids=[e[0] for e in ENCODINGS])
def test_string_columns_in_any_encoding_score_like_plain_ones(
    model, table, reference, tmp_path, kind, build, group
):
    path = tmp_path / "in.parquet"
    pq.write_table(build(table), path, row_group_size=group)
    code, out, rejects = _run(model, path, tmp_path, "--batch-rows", "7")
    assert code == 0, kind
    assert (out.read_bytes(), rejects.read_bytes()) == reference


@pytest.mark.parametrize("encoding", ["dictionary", pa.large_string(), pa.string()])
def test_duplicate_ids_are_found_in_any_id_encoding(model, table, tmp_path, encoding):
    rows = table.to_pylist()
    rows[20] = copy.deepcopy(rows[2])
    dup = _recoded(C.ACCOUNT_ID, encoding)(pa.Table.from_pylist(rows, schema=C.HISTORY_SCHEMA))
    pq.write_table(dup, tmp_path / "in.parquet", row_group_size=5)
    code, _, rejects = _run(model, tmp_path / "in.parquet", tmp_path, "--batch-rows", "7")
    assert code == 3
    rejected = pq.read_table(rejects)
    assert rejected["row"].to_pylist() == [2, 20]
    assert rejected.schema.field(C.ACCOUNT_ID).type == pa.string()
