-- One row per row of adtte (OS timed from the first dose, RFS from the remission), against its
-- origin. The delivery holds no event dates, only `aval` in months, so a time before its origin is
-- a negative aval.
--   os_death       the row is an OS event (paramcd OS, cnsr 0): a death timed from the first dose
--   before_origin  aval is negative
--   value          aval as delivered (months)
SELECT 'adtte.parquet'                   AS file,
       _row                              AS row,
       'aval'                            AS "column",
       USUBJID                           AS subject,
       PARAMCD = 'OS' AND CNSR = 0       AS os_death,
       AVAL_MONTHS < 0                   AS before_origin,
       CAST(AVAL_MONTHS AS VARCHAR)      AS value
FROM {{ ref('adtte') }}
