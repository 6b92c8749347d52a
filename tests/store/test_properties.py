"""Property tests: no bytes or JSON a user's folder holds can crash the readers."""

from __future__ import annotations

import json
import struct
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftui.store import ReadError, read_adapter, scan
from ftui.store.history import history_shape, log_shape, parse_log_history
from ftui.store.jsonio import parse_json

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
FILES = ("adapter_model.safetensors", "adapter_config.json", "trainer_state.json")
settings.register_profile("ftui", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
settings.load_profile("ftui")


@given(st.binary(max_size=300))
def test_random_bytes_as_a_safetensors_file(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.safetensors"
        path.write_bytes(data)
        try:
            read_adapter(path)
        except ReadError as exc:
            assert "\n" not in str(exc)


@given(json_values, st.integers(min_value=0, max_value=64))
def test_random_json_as_a_safetensors_header(header: object, data_len: int) -> None:
    raw = json.dumps(header).encode()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.safetensors"
        path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * data_len)
        try:
            info = read_adapter(path)
        except ReadError:
            return
        assert all(t.nbytes >= 0 for t in info.tensors)


@given(st.binary(max_size=200))
def test_random_bytes_as_json(data: bytes) -> None:
    try:
        parse_json(data)
    except ReadError as exc:
        assert "\n" not in str(exc)


# Log entries as a Trainer writes them, and as they go wrong: odd types in each field,
# non-finite numbers, epochs that jump, repeat or go back.
numbers = st.integers(-3, 300) | st.floats(allow_nan=True, allow_infinity=True, width=32)
odd = st.none() | st.booleans() | st.text(max_size=3) | st.lists(st.integers(), max_size=2)
log_entries = st.lists(
    st.dictionaries(
        st.sampled_from(["step", "epoch", "loss", "eval_loss", "learning_rate"]),
        numbers | odd | st.sampled_from([0.5, 1.0, 2.0, 2.0000001, 3.0, 1.25, 0.0]),
    )
    | odd,
    max_size=40,
)


@settings(max_examples=1500)
@given(log_entries)
def test_log_shape_equals_the_full_parse(entries: list) -> None:
    """`--check` groups versions for its app pass by `log_shape`, read without building
    the history: it must give exactly the plot's shape the full parse gives."""
    assert log_shape(entries) == history_shape(parse_log_history(entries))


@given(json_values)
def test_random_log_history(entries: object) -> None:
    history = parse_log_history(entries)
    history.metrics()
    history.non_finite()


@given(
    metadata=json_values | st.binary(max_size=100),
    files=st.dictionaries(st.sampled_from(FILES), json_values | st.binary(max_size=100)),
)
def test_random_version_folders_scan_without_crashing(metadata: object, files: dict) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "v_20260101_000000"
        folder.mkdir()

        def write(path: Path, value: object) -> None:
            path.write_bytes(value if isinstance(value, bytes) else json.dumps(value).encode())

        write(root / "metadata_v_20260101_000000.json", metadata)
        for name, value in files.items():
            write(folder / name, value)
        (version,) = scan(root)
        for problem in version.problems:
            assert "\n" not in problem.reason
        from ftui.store import check_version

        check_version(version)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab\n'),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\ab', max_size=4), children, max_size=3)
    ),
    max_leaves=30,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@given(json_values, st.booleans())
def test_nesting_depth_on_bytes_equals_the_values_depth(value: object, indent: bool) -> None:
    """Counted on the bytes (brackets inside strings ignored), as deep as the value."""
    from ftui.store.jsonio import nesting_depth

    text = json.dumps(value, indent=1 if indent else None, ensure_ascii=False).encode()
    assert nesting_depth(text) == _depth(value)
