-- One row per kind of record every pooled subject must have: its OS row in adtte. Unlike the other
-- formats, no best-response row is required (kept as it was; see sql/checks/README.md).
SELECT * FROM (VALUES
    ('adtte.parquet', 'OS row')
) AS required(file, record)
