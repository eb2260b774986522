"""The code stays lint-clean (ruff, configured in pyproject.toml: pyflakes, pycodestyle, lines of 120 at most)."""
import shutil
import subprocess
import sys

from tests.conftest import ROOT


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff") or [sys.executable, "-m", "ruff"]
    cmd = [ruff, "check", "."] if isinstance(ruff, str) else [*ruff, "check", "."]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout[-3000:]
