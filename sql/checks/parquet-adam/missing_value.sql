-- best response is required (MRD may be null: not assessed)
SELECT 'adrs.parquet' AS file, _row AS row, 'avalc' AS "column", 'missing_value' AS reason,
       'best response without a value' AS value, USUBJID AS subject
FROM {{ ref('adrs') }} WHERE PARAMCD = 'BOR' AND AVALC IS NULL
