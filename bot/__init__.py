"""The Telegram front end; depends on qa/ and ingest/, nothing depends on it."""
