-- One row per row of ADSL: where the subject is (file, _row, its key column USUBJID), whether it
-- enters the pool (SAFFL = 'Y': received blinatumomab), and its dose dates TRTSDT/TRTEDT with the
-- columns they came from, shown as ISO dates.
SELECT 'adsl.xpt'                      AS file,
       _row                            AS row,
       'USUBJID'                       AS "column",
       USUBJID                         AS subject,
       SAFFL = 'Y'                     AS pooled,
       TRTSDT                          AS first_dose,
       TRTEDT                          AS last_dose,
       'TRTSDT'                        AS first_dose_column,
       'TRTEDT'                        AS last_dose_column,
       strftime(TRTSDT, '%Y-%m-%d')    AS first_dose_shown,
       strftime(TRTEDT, '%Y-%m-%d')    AS last_dose_shown
FROM {{ ref('adsl') }}
