"""The web surface: passage pages, the ask page and the JSON API (``newsbot serve``). Nothing imports it but the CLI."""
