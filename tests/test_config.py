from pathlib import Path

import pytest

from newsbot.config import ConfigError, load_config
from tests.conftest import ROOT


def test_bundled_file_holds_every_default():
    from newsbot.config import Config

    assert load_config(ROOT / "config.yaml", environ={}) == Config()


def test_environment_overrides_nested_keys_with_types():
    config = load_config(
        ROOT / "config.yaml",
        environ={
            "NEWSBOT_STORE__PATH": "./var/elsewhere",
            "NEWSBOT_STORE__CHROMA__MODE": "http",
            "NEWSBOT_STORE__CHROMA__PORT": "8123",
            "NEWSBOT_CHUNKING__SIZE": "900",
        },
    )
    assert config.store.path == Path("./var/elsewhere")
    assert config.store.chroma.mode == "http"
    assert config.store.chroma.port == 8123
    assert config.chunking.size == 900


def test_config_file_from_environment_variable(tmp_path: Path):
    other = tmp_path / "other.yaml"
    other.write_text("chunking:\n  size: 400\n  overlap: 50\n")
    config = load_config(environ={"NEWSBOT_CONFIG": str(other)})
    assert (config.chunking.size, config.chunking.overlap) == (400, 50)
    assert config.embedding.model == "sentence-transformers/all-MiniLM-L6-v2"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"NEWSBOT_CHUNKING__SIZE": "huge"}, "chunking.size"),
        ({"NEWSBOT_STORE__CHROMA__MODE": "cloud"}, "store.chroma.mode"),
        ({"NEWSBOT_CHUNKING__OVERLAP": "5000"}, "chunking"),
        ({"NEWSBOT_INGEST__NO_SUCH_KEY": "1"}, "ingest.no_such_key"),
    ],
)
def test_bad_value_fails_naming_the_key_and_its_origin(environ: dict[str, str], named: str):
    with pytest.raises(ConfigError) as error:
        load_config(ROOT / "config.yaml", environ=environ)
    assert named in str(error.value)
    assert next(iter(environ)) in str(error.value)


def test_unreadable_and_malformed_files_are_named(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        load_config(tmp_path / "missing.yaml", environ={})
    broken = tmp_path / "broken.yaml"
    broken.write_text("store: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML"):
        load_config(broken, environ={})
