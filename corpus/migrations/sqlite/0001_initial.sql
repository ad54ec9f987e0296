-- The registry as newsbot made it before numbered migrations: every statement is IF NOT EXISTS, so a store
-- made by that code (with or without the feeds and watches tables) takes this file unchanged. It runs at every
-- open (corpus/schema.py), so keep it IF NOT EXISTS throughout; later changes go in later files.
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    published TEXT,
    url TEXT,
    dateline TEXT,
    origin TEXT NOT NULL,
    text TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_text_hash ON articles (text_hash);
CREATE INDEX IF NOT EXISTS articles_source ON articles (source);
CREATE INDEX IF NOT EXISTS articles_published ON articles (published);
CREATE TABLE IF NOT EXISTS aliases (
    key TEXT PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    url TEXT
);
CREATE INDEX IF NOT EXISTS aliases_article ON aliases (article_id);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks (article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_fts USING fts5 (text, tokenize = 'porter unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS pending (chunk_id TEXT PRIMARY KEY, op TEXT NOT NULL CHECK (op IN ('add', 'delete')));
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    source TEXT NOT NULL DEFAULT '',
    every REAL NOT NULL,
    etag TEXT,
    last_modified TEXT,
    last_success REAL,
    last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    articles_added INTEGER NOT NULL DEFAULT 0,
    next_run REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS watches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id INTEGER,
    question TEXT NOT NULL,
    seen TEXT NOT NULL DEFAULT '[]',
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS watches_chat ON watches (chat_id, id);
