-- Keyword search that reads the top of each question term's postings instead of all of them (at a million
-- chunks a question's terms hold hundreds of thousands of postings).
-- terms: each token's document frequency, kept in the transactions that add or remove postings, for BM25's idf
-- without counting postings at question time.
CREATE TABLE terms (
    term TEXT PRIMARY KEY,
    df BIGINT NOT NULL
);
INSERT INTO terms (term, df) SELECT term, count(*) FROM postings GROUP BY term;
-- A term's postings best first by BM25's term-frequency part at a typical chunk length (100 tokens; the
-- expression is repeated in postgres_registry.IMPACT and must stay identical). It serves every read by term,
-- so the primary key on (term, chunk) gives way to a unique index led by chunk, which serves the cascade
-- from chunks and the lookups of a candidate's postings.
CREATE INDEX postings_impact ON postings (term, ((tf / (tf + 1.2 * (0.25 + 0.75 * length / 100.0)))::real) DESC)
    INCLUDE (chunk, tf, length);
CREATE UNIQUE INDEX postings_chunk_term ON postings (chunk, term) INCLUDE (tf, length);
ALTER TABLE postings DROP CONSTRAINT postings_pkey;
DROP INDEX postings_chunk;
