"""Records and their derived Arrow schemas."""

import dataclasses

import pyarrow as pa
import pytest

from tether.errors import InputError
from tether.store.schema import SAMPLE_SCHEMA, VERDICT_SCHEMA, Sample, Verdict, check_label, to_table


def test_schema_is_derived_from_the_dataclass():
    assert SAMPLE_SCHEMA.names == [f.name for f in dataclasses.fields(Sample)]
    assert VERDICT_SCHEMA.names == [f.name for f in dataclasses.fields(Verdict)]
    assert SAMPLE_SCHEMA.field("sample_idx").type == pa.int64()
    assert not SAMPLE_SCHEMA.field("task_id").nullable
    assert SAMPLE_SCHEMA.field("completion").nullable
    assert VERDICT_SCHEMA.field("correct").type == pa.bool_()


def test_to_table_round_trips():
    records = [Sample("base", "t1", 0, "x", 3, "stop", 11), Sample("base", "t1", 1)]
    table = to_table(records, Sample)
    assert table.schema == SAMPLE_SCHEMA
    assert [Sample(**row) for row in table.to_pylist()] == records


@pytest.mark.parametrize("label", ["base", "rl", "qwen2.5-7b", "ProRL_v2"])
def test_good_labels(label):
    assert check_label(label) == label


@pytest.mark.parametrize("label", ["", "a/b", "../x", ".hidden", "a b", "x" * 65])
def test_bad_labels(label):
    with pytest.raises(InputError):
        check_label(label)
