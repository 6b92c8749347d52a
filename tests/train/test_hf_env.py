"""The HF switches: set before import, the user's values respected, ours undone for the Hub."""

from __future__ import annotations

import pytest

from ftui.train import hf_env


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(hf_env, "_offline_set_by_us", False)
    monkeypatch.setattr(hf_env, "_set_library_offline", lambda value: None)
    return monkeypatch


def test_local_runs_go_offline_and_hub_runs_undo_it(clean: pytest.MonkeyPatch) -> None:
    import os

    hf_env.configure_environment(offline=True)
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["HF_HUB_DISABLE_TELEMETRY"] == "1"
    hf_env.configure_environment(offline=False)
    assert "HF_HUB_OFFLINE" not in os.environ


def test_the_users_values_win(clean: pytest.MonkeyPatch) -> None:
    import os

    clean.setenv("HF_HUB_OFFLINE", "0")
    clean.setenv("HF_HUB_DISABLE_TELEMETRY", "0")
    hf_env.configure_environment(offline=True)
    assert os.environ["HF_HUB_OFFLINE"] == "0" and os.environ["HF_HUB_DISABLE_TELEMETRY"] == "0"
    clean.setenv("HF_HUB_OFFLINE", "1")
    hf_env.configure_environment(offline=False)
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_library_logs_are_routed_per_thread() -> None:
    import logging
    import threading

    got: list[tuple[str, str]] = []
    logger = logging.getLogger("transformers.test_routing")
    with hf_env.route_library_logs(lambda text, level: got.append((text, level))):
        logger.warning("from the training thread\nsecond line")
        other = threading.Thread(target=lambda: logger.warning("from another thread"))
        other.start()
        other.join()
    logger.warning("after routing")
    assert got == [("from the training thread", "warning"), ("second line", "warning")]
