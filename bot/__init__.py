"""The Telegram surface: python-telegram-bot handlers over qa and ingest; only the cli imports it."""
