-- The server profile's registry: what registry.sqlite3 holds, shared by every process of a deployment.
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE articles (
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
CREATE INDEX articles_text_hash ON articles (text_hash);
CREATE INDEX articles_source ON articles (source);
CREATE INDEX articles_published ON articles (published);
CREATE TABLE aliases (
    key TEXT PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    url TEXT
);
CREATE INDEX aliases_article ON aliases (article_id);
-- length: the chunk's keyword tokens (BM25's document length).
CREATE TABLE chunks (
    rowid BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    length INTEGER NOT NULL
);
CREATE INDEX chunks_article ON chunks (article_id);
-- The keyword index: one row per (token, chunk) with the token's count there and the chunk's length, tokens
-- made by FTS5's own tokenizer (newsbot.text.keyword_tokens) so that BM25 ranks as the SQLite backend does.
-- The key's index carries tf and length: a term's postings are read from the index alone (about 40% less
-- server time per question than with a heap visit per posting).
CREATE TABLE postings (
    term TEXT NOT NULL,
    chunk BIGINT NOT NULL REFERENCES chunks (rowid) ON DELETE CASCADE,
    tf INTEGER NOT NULL,
    length INTEGER NOT NULL,
    PRIMARY KEY (term, chunk) INCLUDE (tf, length)
);
CREATE INDEX postings_chunk ON postings (chunk);
-- BM25's collection figures, kept in the transactions that add or remove chunks.
CREATE TABLE keyword_totals (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    chunks BIGINT NOT NULL,
    tokens BIGINT NOT NULL
);
INSERT INTO keyword_totals (chunks, tokens) VALUES (0, 0);
-- A process that writes articles; it holds the advisory lock (writer lock class, id) while it runs, so a
-- journal row whose writer's lock is free was left by a writer that died.
CREATE TABLE writers (
    id BIGSERIAL PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started TEXT NOT NULL
);
CREATE TABLE pending (
    writer BIGINT NOT NULL,
    chunk_id TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('add', 'delete')),
    PRIMARY KEY (writer, chunk_id)
);
CREATE TABLE feeds (
    url TEXT PRIMARY KEY,
    source TEXT NOT NULL DEFAULT '',
    every DOUBLE PRECISION NOT NULL,
    etag TEXT,
    last_modified TEXT,
    last_success DOUBLE PRECISION,
    last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    articles_added INTEGER NOT NULL DEFAULT 0,
    next_run DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE TABLE watches (
    id BIGSERIAL PRIMARY KEY,
    chat_id BIGINT,
    question TEXT NOT NULL,
    seen TEXT NOT NULL DEFAULT '[]',
    created TEXT NOT NULL
);
CREATE INDEX watches_chat ON watches (chat_id, id);
