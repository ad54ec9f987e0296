"""Settings: defaults in one place, a YAML file, environment overrides, provenance, and clear errors."""

import json
from pathlib import Path

import pytest

from newsbot.settings import Settings, SettingsError, explain_settings, load_settings, postgres_dsn, render_example
from tests.conftest import ROOT
from tests.test_cli import newsbot_env, run


def test_the_documented_example_is_rendered_from_the_defaults():
    assert (ROOT / "config.yaml").read_text(encoding="utf-8") == render_example()
    assert load_settings(ROOT / "config.yaml", environ={}) == Settings()


def test_no_file_means_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # no ./config.yaml here
    assert load_settings(environ={}) == Settings()


def test_environment_overrides_nested_keys_with_types():
    config = load_settings(
        ROOT / "config.yaml",
        environ={
            "NEWSBOT_STORE__PATH": "./var/elsewhere",
            "NEWSBOT_STORE__CHROMA__MODE": "http",
            "NEWSBOT_STORE__CHROMA__PORT": "8123",
            "NEWSBOT_CHUNKING__SIZE": "900",
            "NEWSBOT_TELEGRAM__ADMINS": "[7, 8]",
        },
    )
    assert config.store.path == Path("./var/elsewhere")
    assert config.store.chroma.mode == "http"
    assert config.store.chroma.port == 8123
    assert config.chunking.size == 900
    assert config.telegram.admins == (7, 8)


def test_config_file_from_environment_variable(tmp_path: Path):
    other = tmp_path / "other.yaml"
    other.write_text("chunking:\n  size: 400\n  overlap: 50\n")
    config = load_settings(environ={"NEWSBOT_CONFIG": str(other)})
    assert (config.chunking.size, config.chunking.overlap) == (400, 50)
    assert config.embedding.model == "sentence-transformers/all-MiniLM-L6-v2"


def test_each_value_says_where_it_came_from(tmp_path: Path):
    other = tmp_path / "other.yaml"
    other.write_text("chunking:\n  size: 400\n")
    path, rows = explain_settings(other, environ={"NEWSBOT_CHUNKING__OVERLAP": "20"})
    origins = {key: (value, origin) for key, value, origin in rows}
    assert path == other
    assert origins["chunking.size"] == (400, "file")
    assert origins["chunking.overlap"] == (20, "NEWSBOT_CHUNKING__OVERLAP")
    assert origins["retrieval.k"] == (10, "default")
    assert set(origins) == {key for key, _, _ in explain_settings(environ={})[1]}


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"NEWSBOT_CHUNKING__SIZE": "huge"}, "chunking.size"),
        ({"NEWSBOT_STORE__CHROMA__MODE": "cloud"}, "store.chroma.mode"),
        ({"NEWSBOT_CHUNKING__OVERLAP": "5000"}, "chunking"),
        ({"NEWSBOT_INGEST__NO_SUCH_KEY": "1"}, "ingest.no_such_key"),
        ({"NEWSBOT_WEB__PUBLIC_URL": "ftp://news.example.org"}, "web.public_url"),
    ],
)
def test_bad_value_fails_naming_the_key_and_its_origin(environ: dict[str, str], named: str):
    with pytest.raises(SettingsError) as error:
        load_settings(ROOT / "config.yaml", environ=environ)
    assert named in str(error.value)
    assert next(iter(environ)) in str(error.value)


def test_a_bad_value_in_the_file_names_the_file(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("retrieval:\n  k: 0\n")
    with pytest.raises(SettingsError, match=r"retrieval\.k: .*bad\.yaml"):
        load_settings(bad, environ={})


def test_unreadable_and_malformed_files_are_named(tmp_path: Path):
    with pytest.raises(SettingsError, match=r"missing\.yaml"):
        load_settings(tmp_path / "missing.yaml", environ={})
    broken = tmp_path / "broken.yaml"
    broken.write_text("store: [unclosed\n")
    with pytest.raises(SettingsError, match=r"broken\.yaml: not valid YAML"):
        load_settings(broken, environ={})
    listed = tmp_path / "listed.yaml"
    listed.write_text("- store\n- chunking\n")
    with pytest.raises(SettingsError, match=r"listed\.yaml"):
        load_settings(listed, environ={})


def test_newsbot_config_prints_origins_and_masks_secrets(tmp_path: Path):
    secrets = {
        "TELEGRAM_BOT_TOKEN": "123456:secret-token-value",
        "OPENAI_API_KEY": "sk-very-secret",
        "NEWSBOT_WEB_SECRET": "web-secret-value-0123456789",
        "NEWSBOT_STORE__POSTGRES__DSN": "postgresql://newsbot:pg-password-value@db.example/newsbot",
    }
    env = newsbot_env(tmp_path / "store", NEWSBOT_RETRIEVAL__K="7", **secrets)
    env.pop("TELEGRAM_WEBHOOK_SECRET", None)
    env.pop("CHROMA_AUTH_TOKEN", None)
    env.pop("DATABASE_URL", None)
    text = run("config", env=env)
    as_json = run("config", "--json", env=env)
    assert text.returncode == as_json.returncode == 0, text.stderr + as_json.stderr
    for output in (text.stdout, as_json.stdout):
        assert not any(secret in output for secret in secrets.values())
    shown = json.loads(as_json.stdout)
    assert shown["settings"]["retrieval.k"] == {"value": 7, "from": "NEWSBOT_RETRIEVAL__K"}
    assert shown["settings"]["store.path"]["from"] == "NEWSBOT_STORE__PATH"
    assert shown["secrets"] == {
        "TELEGRAM_BOT_TOKEN": "set",
        "TELEGRAM_WEBHOOK_SECRET": "not set",
        "OPENAI_API_KEY": "set",
        "CHROMA_AUTH_TOKEN": "not set",
        "NEWSBOT_WEB_SECRET": "set",
        "NEWSBOT_WEB_ADMIN_TOKEN": "not set",
        "NEWSBOT_STORE__POSTGRES__DSN": "set",
        "DATABASE_URL": "not set",
    }
    assert "retrieval.k" in text.stdout and "NEWSBOT_RETRIEVAL__K" in text.stdout


def test_postgres_backend_needs_a_chroma_server_and_a_dsn_from_the_environment():
    with pytest.raises(SettingsError, match=r"store.backend: postgres needs store.chroma.mode: http"):
        load_settings(environ={"NEWSBOT_STORE__BACKEND": "postgres"})
    server = {"NEWSBOT_STORE__BACKEND": "postgres", "NEWSBOT_STORE__CHROMA__MODE": "http"}
    assert load_settings(environ=server).store.backend == "postgres"
    with pytest.raises(SettingsError, match="neither NEWSBOT_STORE__POSTGRES__DSN nor DATABASE_URL is set"):
        postgres_dsn({})
    assert postgres_dsn({"DATABASE_URL": "postgresql://a@b/c"}) == "postgresql://a@b/c"
    both = {"DATABASE_URL": "postgresql://a@b/c", "NEWSBOT_STORE__POSTGRES__DSN": "postgresql://d@e/f"}
    assert postgres_dsn(both) == "postgresql://d@e/f"


def test_the_keyword_engine_is_tantivy_for_both_backends_unless_the_registrys_own_is_chosen():
    assert load_settings(environ={}).store.uses_tantivy
    assert not load_settings(environ={"NEWSBOT_STORE__KEYWORD_ENGINE": "registry"}).store.uses_tantivy
    server = {"NEWSBOT_STORE__BACKEND": "postgres", "NEWSBOT_STORE__CHROMA__MODE": "http"}
    assert load_settings(environ=server).store.uses_tantivy
    assert load_settings(environ={**server, "NEWSBOT_STORE__KEYWORD_ENGINE": "tantivy"}).store.uses_tantivy
    assert not load_settings(environ={**server, "NEWSBOT_STORE__KEYWORD_ENGINE": "registry"}).store.uses_tantivy
    with pytest.raises(SettingsError, match="NEWSBOT_STORE__KEYWORD_ENGINE"):
        load_settings(environ={"NEWSBOT_STORE__KEYWORD_ENGINE": "lucene"})
