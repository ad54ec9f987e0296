-- The chunks (by rowid) each registry transaction added or removed, in order: what a keyword index outside the
-- registry (Tantivy, corpus/tantivy_index.py) has yet to apply. Its AUTOINCREMENT counter is the registry's
-- keyword generation; the index records the generation it reflects and trims the rows it has applied.
CREATE TABLE IF NOT EXISTS keyword_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, row INTEGER NOT NULL);
