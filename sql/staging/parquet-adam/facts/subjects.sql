-- One row per row of adsl (both arms): where the subject is (file, _row, its key column usubjid),
-- whether it enters the pool (randomised to AND treated with blinatumomab; the SOC arm and untreated
-- patients do not), and its dose dates with the columns they came from, shown as ISO dates.
SELECT 'adsl.parquet'                  AS file,
       _row                            AS row,
       'usubjid'                       AS "column",
       USUBJID                         AS subject,
       ARM = 'Blinatumomab' AND TREATED AS pooled,
       TRTSDT                          AS first_dose,
       TRTEDT                          AS last_dose,
       'first_dose_date'               AS first_dose_column,
       'last_dose_date'                AS last_dose_column,
       strftime(TRTSDT, '%Y-%m-%d')    AS first_dose_shown,
       strftime(TRTEDT, '%Y-%m-%d')    AS last_dose_shown
FROM {{ ref('adsl') }}
