-- The chunks (by rowid) that each transaction storing or removing chunks added or removed: what the Tantivy
-- keyword index each machine keeps under its store.path (corpus/tantivy_index.py) has yet to apply. Those
-- transactions run one after another (postgres_registry._serialize_writes) and number their rows inside, so seq
-- follows commit order; the highest is the registry's keyword generation. Readers never delete rows: the newest
-- KEYWORD_CHANGES_KEPT stay, older ones are trimmed and meta keyword_trimmed records up to where; an index
-- further behind than that rebuilds. registry_id tells a machine's index which database it reflects.
CREATE TABLE keyword_changes (seq BIGSERIAL PRIMARY KEY, row BIGINT NOT NULL);
INSERT INTO meta (key, value) VALUES ('registry_id', gen_random_uuid()::text), ('keyword_trimmed', '0')
    ON CONFLICT (key) DO NOTHING;
