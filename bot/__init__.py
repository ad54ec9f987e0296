"""The Telegram front end (issue 4); depends on qa/, nothing depends on it."""
