"""The wheel: every package under kind/ and its data (the demo assets, the NIQE models, the default
weights version only, with its model card), so that kind works from any folder after pip install."""

import shutil
import subprocess
import sys
import zipfile

import pytest
from conftest import ROOT

from kind.constants import SHIPPED_VERSION

pytestmark = pytest.mark.slow  # builds a wheel


def test_the_wheel_holds_every_package_and_the_data(tmp_path):
    # built from a copy of the sources: setuptools would reuse a checkout's stale build/ (an old weights version)
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "runs", "*.egg-info", "__pycache__", ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path)], check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = tmp_path.glob("kind-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {str(path.parent.relative_to(ROOT)) for path in (ROOT / "kind").rglob("__init__.py")}
    assert {f"{package}/__init__.py" for package in packages} <= names
    assert {str(path.relative_to(ROOT)) for path in (ROOT / "kind").rglob("*.py")} <= names
    data = {name for name in names if not name.endswith(".py") and name.startswith("kind/")}
    assert {f"kind/weights/pretrained/{SHIPPED_VERSION}/{net}.pt" for net in ("decom", "restore", "adjust")} <= data
    assert "kind/weights/pretrained/README.md" in data
    assert {"kind/metrics/niqe_params/niqe_live_pristine.npz", "kind/metrics/niqe_params/niqe_kindpp_retrained.npz"} <= data
    assert any(name.startswith("kind/assets/") and name.endswith(".png") for name in data)
    other_versions = {name for name in data if name.startswith("kind/weights/pretrained/v") and f"/{SHIPPED_VERSION}/" not in name}
    assert other_versions == set()  # only the default version ships
