from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from risk_model import contract as C

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CONTRACT_DOC = ROOT / "docs" / "contract.md"  # the full tables; the README has a summary


def test_docs_document_the_contract_as_it_is():
    # Regenerate with: python -c "from risk_model.contract import markdown_tables as m; print(m())"
    assert C.markdown_tables() in CONTRACT_DOC.read_text(encoding="utf-8")


def test_docs_check_would_notice_a_changed_contract():
    changed = C.markdown_tables().replace("Credit limit at the statement date", "Limit")
    assert changed not in CONTRACT_DOC.read_text(encoding="utf-8")


def test_schema_version_is_documented_and_survives_parquet(tmp_path):
    title = f"# The data contract (schema version {C.SCHEMA_VERSION})\n"
    assert CONTRACT_DOC.read_text(encoding="utf-8").startswith(title)
    assert f"#{title}" in README.read_text(encoding="utf-8")  # the summary's heading
    assert "](docs/contract.md)" in README.read_text(encoding="utf-8")
    # Written files say which contract they follow: the metadata key outlives a round trip.
    pq.write_table(C.HISTORY_SCHEMA.empty_table(), tmp_path / "h.parquet")
    metadata = pq.read_schema(tmp_path / "h.parquet").metadata
    assert metadata[b"closure_risk_schema_version"] == C.SCHEMA_VERSION.encode()


def test_field_names_are_unique_within_each_part():
    for fields in (C.PROFILE_FIELDS, C.STATEMENT_FIELDS, C.TRANSACTION_FIELDS, C.TRUTH_FIELDS):
        names = [f.name for f in fields]
        assert len(names) == len(set(names))


def test_nested_columns_are_lists_of_structs():
    for column in (C.STATEMENTS, C.TRANSACTIONS):
        field_type = C.HISTORY_SCHEMA.field(column).type
        assert pa.types.is_list(field_type) and pa.types.is_struct(field_type.value_type)
    assert not pa.types.is_list(C.HISTORY_SCHEMA.field(C.ACCOUNT_ID).type)
