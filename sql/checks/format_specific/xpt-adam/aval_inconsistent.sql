-- One row per ADTTE row whose AVAL (days) disagrees with ADT - STARTDT by more than half a day.
-- xpt-adam only: it is the one format that delivers both the analysis value and the dates it is
-- derived from (sources.md: AVAL = ADT - STARTDT in days); parquet-adam delivers months without
-- dates, csv-legacy delivers dates only (the pipeline derives the times itself).
SELECT 'adtte.xpt' AS file, _row AS row, 'AVAL' AS "column", 'aval_inconsistent' AS reason,
       'AVAL ' || CAST(AVAL_DAYS AS VARCHAR) || ' days, ADT - STARTDT ' || CAST(date_diff('day', STARTDT, ADT) AS VARCHAR)
           AS value,
       USUBJID AS subject
FROM {{ ref('adtte') }}
WHERE AVAL_DAYS IS NOT NULL AND STARTDT IS NOT NULL AND ADT IS NOT NULL
  AND abs(AVAL_DAYS - date_diff('day', STARTDT, ADT)) > 0.5
