"""Issue 10's hostile folders: no data loss, no hang, no crash, nothing silent.

Each test builds its case with make_hostile.py (via the `build` fixture, which also checks
that nothing outside the root changed), runs ftui in a child process under a timeout and
asserts a bounded, clear result. Numbers in test names are the issue's case numbers.
"""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path

import pytest
from conftest import cli, probe
from make_hostile import ACCENTS, CLAIMED, GOOD, GOOD2, RTL_NAME

BAD_IDS = ["", ".", ".."]


# -- 1. data loss ----------------------------------------------------------------------


def test_1_bad_ids_are_damaged_in_check(build) -> None:
    root = build("bad_ids")
    proc = cli("--check", "--no-ui", "--json", str(root))
    report = json.loads(proc.stdout)
    by_id = {v["id"]: v for v in report["versions"]}
    for bad in BAD_IDS:
        assert by_id[bad]["status"] == "damaged"
        assert "not usable" in by_id[bad]["problems"][0]["reason"]
    assert by_id[GOOD]["healthy"] and proc.returncode == 1


@pytest.mark.parametrize("bad", BAD_IDS)
def test_1_bad_ids_are_never_deletable(build, bad: str) -> None:
    root = build("bad_ids")
    assert "refused" in probe("plan", str(root), bad)
    assert "refused" in probe("delete", str(root), bad)
    assert (root / GOOD).is_dir()


def test_1_d_in_the_app_never_removes_the_root_or_its_parent(build) -> None:
    root = build("bad_ids")
    before = sorted(os.listdir(root))
    result = probe("app", str(root), "each", "d", "y", timeout=120)
    assert result["return_code"] in (0, None)
    refusals = [n for n in result["notices"] if "refused to delete" in n]
    assert len(refusals) == 3, result["notices"]
    # the good version may go (it was asked for); nothing else did
    without_good = sorted(set(before) - {GOOD, f"metadata_{GOOD}.json"})
    assert sorted(os.listdir(root)) in (before, without_good)


def test_1_a_root_that_is_a_run_cannot_be_deleted(build) -> None:
    root = build("root_is_a_run")
    assert "refused" in probe("plan", str(root), root.name)
    result = probe("app", str(root), "each", "d", "y", timeout=120)
    assert any("refused to delete" in n for n in result["notices"])
    assert (root / "checkpoint-5").is_dir()


# -- 2. memory without limit, blocking opens -----------------------------------------


def test_2_follower_refuses_dev_zero_within_a_memory_cap(build) -> None:
    root = build("events_dev_zero")
    result = probe("follow", str(root / GOOD), "3", "600")
    assert "not a regular file" in result.get("error", ""), result


def test_2_follower_refuses_a_fifo_without_blocking(build) -> None:
    root = build("events_fifo")
    result = probe("follow", str(root / GOOD), "3", timeout=30)
    assert "not a regular file" in result.get("error", ""), result


def test_2_follower_memory_is_bounded_on_an_endless_line(build) -> None:
    root = build("events_one_huge_line")
    result = probe("follow", str(root / GOOD), "4", "256", timeout=60)
    assert "error" not in result, result
    assert result["events"] == 0


def test_2_watching_a_fifo_log_in_the_app_then_quitting(build) -> None:
    root = build("events_fifo")
    result = probe("app", str(root), "each", "w", timeout=60)
    assert any("follow the run" in n for n in result["notices"]), result["notices"]


# -- 3. hangs ----------------------------------------------------------------------------


def test_3_deep_json_check_returns_with_the_app_pass(build) -> None:
    root = build("deep_json")
    proc = cli("--check", str(root), timeout=120)
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.returncode == 1
    assert "nested deeper than" in proc.stdout


def test_3_a_long_lineage_shows_in_the_tree(build) -> None:
    root = build("long_chain")
    result = probe("app", str(root), "last", timeout=120)
    assert len(result["rows"]) == 1200
    assert result["return_code"] in (0, None)


def test_3_forest_of_20000_chained_versions_is_linear() -> None:
    result = probe("forest", "20000", timeout=30)
    assert result["roots"] == ["v0", "loop"] and result["nested"] == 19999


# -- 4. a version folder that is a link -------------------------------------------------


def test_4_link_to_slash_is_not_walked(build) -> None:
    root = build("link_to_slash")
    proc = cli("--check", "--no-ui", str(root), timeout=30)
    assert "a symbolic link to /: not followed" in proc.stdout
    details = probe("details", str(root), GOOD2, timeout=30)
    assert details["files"] == 0 and details["total"] == 0


def test_4_link_to_slash_check_with_the_app_pass(build) -> None:
    root = build("link_to_slash")
    proc = cli("--check", str(root), timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr


def test_4_deleting_a_linked_version_removes_only_the_link(build) -> None:
    root = build("link_to_outside")
    plan = probe("plan", str(root), GOOD2)
    link, meta = root / GOOD2, root / f"metadata_{GOOD2}.json"
    assert plan["paths"] == [str(link), str(meta)]
    assert plan["size"] == os.lstat(link).st_size + meta.stat().st_size  # not what it points to
    probe("delete", str(root), GOOD2)
    assert not os.path.lexists(root / GOOD2)  # the link went; `outside/` is checked by build


def test_4_checkpoint_inside_a_linked_version_is_refused(build) -> None:
    root = build("link_to_outside")
    assert "refused" in probe("delete", str(root), GOOD2, "checkpoint-5")


# -- 5. large text -------------------------------------------------------------------------


def test_5_huge_notes_check_with_the_app_pass(build) -> None:
    root = build("huge_notes")
    proc = cli("--check", str(root), timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_5_huge_notes_are_shown_cut_with_their_size(build) -> None:
    root = build("huge_notes")
    result = probe("notes", str(root), GOOD2, timeout=60)
    assert result["length"] < 10_000
    assert "characters, 20,001 lines in all" in result["tail"]


# -- 6. crashes in --check -------------------------------------------------------------------


def test_6_infinite_alpha_gives_valid_json_and_a_problem(build) -> None:
    root = build("infinite_alpha")
    proc = cli("--check", "--no-ui", "--json", str(root))
    report = json.loads(proc.stdout)  # valid JSON: no Infinity
    bad = next(v for v in report["versions"] if v["id"] == GOOD2)
    assert bad["lora_alpha"] is None and not bad["healthy"]
    assert "non-finite number: lora_alpha=inf" in bad["problems"][0]["reason"]
    text = cli("--check", "--no-ui", str(root))
    assert text.returncode == 1 and "non-finite" in text.stdout


@pytest.mark.parametrize("encoding", ["utf-8:strict", "ascii:strict"])
def test_6_non_utf8_names_survive_a_strict_stdout(build, encoding: str) -> None:
    root = build("non_utf8_name")
    for extra in ([], ["--json"]):
        proc = cli("--check", "--no-ui", *extra, str(root), PYTHONIOENCODING=encoding)
        assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert proc.returncode == 0
        assert "v_\\xff\\xfe_latin1" in proc.stdout or "\\udcff" in proc.stdout


# -- 7. odd text -------------------------------------------------------------------------------


FORBIDDEN = {"\u202e", "\u2066", "\u200b"}


def _max_marks(text: str) -> int:
    longest = run = 0
    for char in text:
        run = run + 1 if unicodedata.category(char)[0] == "M" else 0
        longest = max(longest, run)
    return longest


def test_7_bidi_zero_width_and_accents_in_check(build) -> None:
    root = build("odd_text")
    proc = cli("--check", "--no-ui", str(root))
    assert not FORBIDDEN & set(proc.stdout)
    assert "v_rtl\\u202etxt.exe" in proc.stdout and _max_marks(proc.stdout) <= 4


def test_7_bidi_zero_width_and_accents_in_the_app(build) -> None:
    root = build("odd_text")
    result = probe("app", str(root), "each", timeout=120)
    screens = "\n".join(result["screens"])
    assert not FORBIDDEN & set(screens) and _max_marks(screens) <= 4
    assert ACCENTS not in screens and RTL_NAME not in screens


# -- 8. a planted lock file ----------------------------------------------------------------------


def test_8_lock_link_is_never_followed(build) -> None:
    root = build("lock_link")
    assert "symbolic link" in probe("tags", str(root), GOOD)["refused"]
    assert json.loads((root / f"metadata_{GOOD}.json").read_text())["tags"] == ["a"]


# -- 9. a sparse adapter claiming gigabytes ------------------------------------------------


def test_9_sparse_adapter_costs_no_gigabytes(build) -> None:
    root = build("sparse_adapter")
    result = probe("updates", str(root), GOOD, GOOD2, "1500", timeout=60)
    assert isinstance(result["stats"], list), result["stats"]  # not an error ("truncated")
    assert result["max_rss_kb"] < 600 * 1024
    claimed = CLAIMED[0] * CLAIMED[1] * 4
    assert os.stat(root / GOOD2 / "adapter_model.safetensors").st_size > claimed


def test_9_reads_loop_over_short_preads(build) -> None:
    """One pread returns at most ~2 GiB on Linux: shown with every pread cut to 1 KiB."""
    root = build("failed_and_cancelled")  # two small real adapters (8 KB tensors)
    result = probe("updates", str(root), GOOD, GOOD2, "0")
    assert isinstance(result["stats"], list), result["stats"]  # not "truncated"
    assert all(norm_a and norm_b for _, norm_a, norm_b in result["stats"])


# -- 10. silence ----------------------------------------------------------------------------


def test_10_lineage_loops_self_parents_and_missing_parents(build) -> None:
    root = build("lineage_loops")
    proc = cli("--check", "--no-ui", "--json", str(root))
    report = {v["id"]: v for v in json.loads(proc.stdout)["versions"]}
    reasons = {k: " ".join(p["reason"] for p in v["problems"]) for k, v in report.items()}
    assert "names itself as parent" in reasons["v_20260101_100000"]
    assert "lineage loop" in reasons["v_20260102_100000"]
    assert "lineage loop" in reasons["v_20260103_100000"]
    missing = report["v_20260104_100000"]
    assert missing["healthy"] and "not in this folder" in missing["warnings"][0]["reason"]
    assert proc.returncode == 1


def test_10_missing_parent_is_a_warning_and_strict_fails(build) -> None:
    root = build("missing_parent_only")
    proc = cli("--check", "--no-ui", str(root))
    assert proc.returncode == 0 and "warning: " in proc.stdout
    assert cli("--check", "--no-ui", "--strict", str(root)).returncode == 1


def test_10_failed_and_cancelled_pass_unless_strict(build) -> None:
    root = build("failed_and_cancelled")
    proc = cli("--check", "--no-ui", str(root))
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[-1] == "2 versions, 2 healthy, 0 damaged, 1 cancelled, 1 failed"
    strict = cli("--check", "--no-ui", "--strict", str(root))
    assert strict.returncode == 1 and "--strict" in strict.stdout


@pytest.mark.parametrize(
    ("setting", "message"),
    [("r=1e9", "r=1e+09 is beyond"), ("batch_size=1e12", "batch_size=1e+12 is beyond"),
     ("r=100", "larger than the model's hidden size (64)"),
     ("continue_from_parent=true", "--continue"), ("parent=v_1", "ftui retrain"),
     ("root=/tmp/x", "--root")],
)  # fmt: skip
def test_10_absurd_and_flag_only_settings_are_refused(tmp_path: Path, setting, message) -> None:
    root = tmp_path / "model_versions"
    proc = cli("train", "--root", str(root), "--set", setting, timeout=60)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr[-2000:]
    assert not root.exists() or not any(root.iterdir())  # no version was claimed
