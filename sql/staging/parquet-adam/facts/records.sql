-- One row per row of adtte, adrs and adae (the datasets that hang off adsl): where it is (file,
-- _row, the key column usubjid), whose it is, and what it is (`record`, the name required_records
-- uses: the parameter for the BDS datasets).
SELECT 'adtte.parquet' AS file, _row AS row, 'usubjid' AS "column", USUBJID AS subject, PARAMCD || ' row' AS record
FROM {{ ref('adtte') }}
UNION ALL
SELECT 'adrs.parquet', _row, 'usubjid', USUBJID,
       CASE PARAMCD WHEN 'BOR' THEN 'BOR_C1C2 row' WHEN 'MRD' THEN 'MRD_C1C2 row' END
FROM {{ ref('adrs') }}
UNION ALL
SELECT 'adae.parquet', AESEQ, 'usubjid', USUBJID, 'adverse event row' FROM {{ ref('adae') }}
