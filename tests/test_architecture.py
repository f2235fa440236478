"""The layers of core/ (core/README.md) hold: import-linter's contracts in .importlinter pass, and
they do break when a module imports upwards or makes a cycle."""

import shutil
import subprocess
import sys
from pathlib import Path

from core.config import REPO_ROOT

LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--no-cache", "--config", str(root / ".importlinter")], cwd=root,
                          capture_output=True, text=True, timeout=120)


def test_the_import_contracts_hold():
    result = _lint(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_or_a_cycle_breaks_the_contracts(tmp_path):
    for name in ("core", "db", "pages"):
        shutil.copytree(REPO_ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / ".importlinter", tmp_path)
    with (tmp_path / "core" / "intake" / "files.py").open("a") as f:
        f.write("\n\ndef _upward():\n    from core import lab  # intake must not know the facade\n")
    with (tmp_path / "core" / "measure" / "benchmark.py").open("a") as f:
        f.write("\nfrom core.measure import profile  # profile imports benchmark: a cycle\n")
    result = subprocess.run([str(LINT), "--no-cache", "--config", ".importlinter"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "core.intake.files -> core.lab" in result.stdout
    assert "no import cycles between modules of one package BROKEN" in result.stdout
