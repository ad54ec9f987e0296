"""The package as users install it: a wheel (not editable) in a fresh virtualenv, used from an empty folder.

The fresh environment borrows the already-installed dependencies of this one through a ``.pth`` line, so the
test needs no network; a ``.pth`` line adds a folder to the path without running the ``.pth`` files inside it,
so this checkout's editable install stays invisible there.
"""

import json
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES

pytestmark = pytest.mark.e2e
GENERIC_NAMES = ("bot", "qa", "corpus", "ingest", "web", "tests", "benchmarks")
# The installed newsbot's own requirements that are missing or of the wrong version (``pip check`` would also
# judge the borrowed packages against the fresh environment's own older setuptools).
UNMET_REQUIREMENTS = """
from importlib.metadata import PackageNotFoundError, distribution, version
from packaging.requirements import Requirement
unmet = []
for spec in distribution("newsbot").requires or []:
    requirement = Requirement(spec)
    if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
        continue
    try:
        if not requirement.specifier.contains(version(requirement.name), prereleases=True):
            unmet.append(spec)
    except PackageNotFoundError:
        unmet.append(spec)
print(unmet)
"""


def sh(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", dist, ROOT, cwd=dist)
    (built,) = dist.glob("newsbot-*.whl")
    return built


def test_the_wheel_installs_everything_under_one_name(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"newsbot", next(t for t in tops if t.endswith(".dist-info"))}
    for package in (
        "newsbot/bot/app.py",
        "newsbot/ingest/pipeline.py",
        "newsbot/qa/chain.py",
        "newsbot/corpus/store.py",
        "newsbot/qa/weights/reader-v1.safetensors",  # the trained reader answers from the installed package
        "newsbot/qa/weights/reader-v1.json",
        "newsbot/web/app.py",
        "newsbot/web/static/style.css",  # the pages' one stylesheet, served same-origin
    ):
        assert package in names


def test_installed_from_the_wheel_it_ingests_answers_and_reports_from_an_empty_folder(wheel: Path, tmp_path: Path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    site = Path(sh(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path).strip())
    (site / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    sh(python, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--force-reinstall", wheel, cwd=tmp_path)
    assert sh(python, "-c", UNMET_REQUIREMENTS, cwd=tmp_path).strip() == "[]"

    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "PYTHON"))}
    located = sh(python, "-c", "import newsbot.bot, newsbot.cli; print(newsbot.bot.__file__)", cwd=empty, env=env)
    assert Path(located.strip()).is_relative_to(site), located
    generic = f"import importlib.util as u; print([n for n in {GENERIC_NAMES!r} if u.find_spec(n)])"
    assert sh(python, "-c", generic, cwd=empty, env=env).strip() == "[]"

    newsbot = env_dir / "bin" / "newsbot"
    report = json.loads(sh(newsbot, "ingest", SAMPLES, "--json", "--quiet", cwd=empty, env=env))
    assert report["articles_new"] == 9 and report["articles_failed"] == 0
    answer = json.loads(sh(newsbot, "ask", "Who controls Derna?", "--json", cwd=empty, env=env))
    assert "Majlis" in answer["text"] and answer["citations"]
    stats = json.loads(sh(newsbot, "stats", "--json", cwd=empty, env=env))
    assert stats["articles"] == 9 and stats["vectors"] == stats["chunks"] > 0
    assert Path(stats["store_path"]) == (empty / "var" / "store").resolve()
    assert answer["reader"] == stats["reader"] == "reader-v1"
