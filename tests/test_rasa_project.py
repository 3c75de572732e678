"""Rasa's own checks of the training data and the rules (in `make test`)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.support.processes import MODEL, RASA, ROOT

ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "PYTHONWARNINGS": "ignore"}

pytestmark = pytest.mark.slow


def _rasa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [RASA, *args], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300
    )


def test_training_data_is_valid():
    result = _rasa("data", "validate", "--fail-on-warnings")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_story_tests_pass(tmp_path):
    result = _rasa(
        "test",
        "core",
        "--model",
        str(MODEL),
        "--stories",
        "tests/rasa/test_stories.yml",
        "--fail-on-prediction-errors",
        "--out",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_held_out_examples_are_understood(tmp_path):
    """Every held-out request for a person is recognised, and nothing else is
    taken for one (a false transfer would bother an operator)."""
    result = _rasa(
        "test",
        "nlu",
        "--model",
        str(MODEL),
        "--nlu",
        "tests/rasa/nlu_heldout.yml",
        "--out",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((tmp_path / "intent_report.json").read_text())
    assert report["request_human"]["precision"] == 1.0
    assert report["request_human"]["recall"] == 1.0
    assert report["accuracy"] >= 0.9


def test_the_patches_of_rasa_refuse_another_version():
    """bot/'s patches of Rasa and jsonschema internals load on the versions
    they were written for and fail loudly on any other (issue 14)."""
    python = str(ROOT / ".venv-rasa" / "bin" / "python")
    loads = subprocess.run(
        [python, "-c", "import bot"], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300
    )
    assert loads.returncode == 0, loads.stderr[-3000:]
    for package in ("rasa", "jsonschema"):
        pretend = (
            "import importlib.metadata as m; real = m.version;"
            f" m.version = lambda p: '99.0.0' if p == {package!r} else real(p); import bot"
        )
        refused = subprocess.run(
            [python, "-c", pretend], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300
        )
        assert refused.returncode != 0
        assert f"but {package} 99.0.0 is installed" in refused.stderr, refused.stderr[-3000:]
