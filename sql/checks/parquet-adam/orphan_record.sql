SELECT 'adtte.parquet' AS file, x._row AS row, 'usubjid' AS "column", 'orphan_record' AS reason, x.USUBJID AS value, x.USUBJID AS subject
FROM {{ ref('adtte') }} x WHERE NOT EXISTS (SELECT 1 FROM {{ ref('adsl') }} a WHERE a.USUBJID = x.USUBJID)
UNION ALL
SELECT 'adrs.parquet', x._row, 'usubjid', 'orphan_record', x.USUBJID, x.USUBJID
FROM {{ ref('adrs') }} x WHERE NOT EXISTS (SELECT 1 FROM {{ ref('adsl') }} a WHERE a.USUBJID = x.USUBJID)
UNION ALL
SELECT 'adae.parquet', x.AESEQ, 'usubjid', 'orphan_record', x.USUBJID, x.USUBJID
FROM {{ ref('adae') }} x WHERE NOT EXISTS (SELECT 1 FROM {{ ref('adsl') }} a WHERE a.USUBJID = x.USUBJID)
