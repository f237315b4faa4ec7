-- One row per best-response row (BOR_C1C2) without a value.
-- parquet-adam only: its one response column avalc holds both parameters, and an MRD value may be
-- null (not assessed), so the source contract must let avalc be null and cannot require it for the
-- best response; this check does. csv-legacy's RESPONSE and xpt-adam's AVALC may never be empty
-- (schemas/sources.py: csv-legacy says "not assessed" with an empty MRD column, xpt-adam with NE).
SELECT 'adrs.parquet' AS file, _row AS row, 'avalc' AS "column", 'missing_value' AS reason,
       'best response without a value' AS value, USUBJID AS subject
FROM {{ ref('adrs') }}
WHERE PARAMCD = 'BOR' AND AVALC IS NULL
