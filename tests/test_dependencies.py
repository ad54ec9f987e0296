"""What pyproject.toml declares is what the product imports, and the four it is built on stay direct."""

import ast
import re
import tomllib
from importlib.metadata import packages_distributions

from tests.conftest import ROOT

SOURCES = ("newsbot", "corpus", "ingest", "qa", "bot", "web")
BUILT_ON = {"langchain", "chromadb", "sentence-transformers", "python-telegram-bot"}
# Declared, used, but never named in an import statement of ours, each for a reason:
NOT_IMPORTED_BY_NAME = {
    "langchain-openai": "the 'openai' provider, which langchain's init_chat_model imports (qa/llm.py)",
    "python-multipart": "multipart form parsing, which starlette imports for uploads to POST /api/ingest (web/app.py)",
}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonical(re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0]) for spec in project["dependencies"]}


def imported_modules() -> set[str]:
    found = set()
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found.add(node.module.split(".")[0])
    return found


def test_every_declared_dependency_is_imported_by_the_product():
    owners = packages_distributions()
    used = {canonical(dist) for module in imported_modules() for dist in owners.get(module, [])}
    assert declared() - used == set(NOT_IMPORTED_BY_NAME)
    assert declared() & used >= BUILT_ON


def test_what_only_tests_and_benchmarks_use_is_a_dev_extra():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    assert "langchain-chroma" not in declared()
    assert any(spec.startswith("langchain-chroma") for spec in extras)
