-- The bot's watch loop asks for the latest ingest time every poll: without an index that read every article
-- (about 200 ms at a million chunks).
CREATE INDEX IF NOT EXISTS articles_ingested ON articles (ingested_at);
