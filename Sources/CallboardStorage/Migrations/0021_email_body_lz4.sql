-- Email bodies are compressed with lz4 instead of pglz: most digests are long enough to be
-- compressed when stored, and pglz was 7% of PostgreSQL's time in a busy scheduler tick
-- (docs/performance.md, "The scheduler's writes"). Rows written before keep pglz; both read the same.
ALTER TABLE emails
    ALTER COLUMN body_text SET COMPRESSION lz4,
    ALTER COLUMN body_html SET COMPRESSION lz4,
    ALTER COLUMN template_data SET COMPRESSION lz4;
