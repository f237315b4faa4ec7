-- One row per row of ADTTE, ADRS and ADAE (the datasets that hang off ADSL): where it is (file,
-- _row, the key column USUBJID), whose it is, and what it is (`record`, the name required_records
-- uses: the delivered parameter code for the BDS datasets).
SELECT 'adtte.xpt' AS file, _row AS row, 'USUBJID' AS "column", USUBJID AS subject, PARAMCD || ' row' AS record
FROM {{ ref('adtte') }}
UNION ALL
SELECT 'adrs.xpt', _row, 'USUBJID', USUBJID,
       CASE PARAMCD WHEN 'BOR' THEN 'BOR2C row' WHEN 'MRD' THEN 'MRD2C row' END
FROM {{ ref('adrs') }}
UNION ALL
SELECT 'adae.xpt', AESEQ, 'USUBJID', USUBJID, 'adverse event row' FROM {{ ref('adae') }}
