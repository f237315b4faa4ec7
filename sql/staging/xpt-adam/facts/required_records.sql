-- One row per kind of record every pooled subject must have: its OS row in ADTTE and its best
-- response within two cycles (BOR2C) in ADRS. RFS, MRD2C and AE rows are optional.
SELECT * FROM (VALUES
    ('adtte.xpt', 'OS row'),
    ('adrs.xpt', 'BOR2C row')
) AS required(file, record)
