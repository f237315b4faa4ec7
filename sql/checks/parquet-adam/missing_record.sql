SELECT 'adsl.parquet' AS file, a._row AS row, 'first_dose_date' AS "column", 'missing_record' AS reason,
       'treated blinatumomab subject without first/last dose date' AS value, a.USUBJID AS subject
FROM {{ ref('adsl') }} a WHERE a.ARM = 'Blinatumomab' AND a.TREATED AND (a.TRTSDT IS NULL OR a.TRTEDT IS NULL)
UNION ALL
SELECT 'adsl.parquet', a._row, 'usubjid', 'missing_record', 'subject (adsl.parquet row ' || a._row || ') has no OS row', a.USUBJID
FROM {{ ref('adsl') }} a
WHERE a.ARM = 'Blinatumomab' AND a.TREATED
  AND NOT EXISTS (SELECT 1 FROM {{ ref('adtte') }} t WHERE t.USUBJID = a.USUBJID AND t.PARAMCD = 'OS')
