-- One row per row of patients.csv (the subject-level file): where the subject is (file, _row, its key
-- column PATNR), whether it enters the pool (every patient of this single-arm study does), and its
-- dose dates with the columns they came from and as the file writes them (DD.MM.YYYY).
SELECT 'patients.csv'                  AS file,
       _row                            AS row,
       'PATNR'                         AS "column",
       USUBJID                         AS subject,
       TRUE                            AS pooled,
       TRTSDT                          AS first_dose,
       TRTEDT                          AS last_dose,
       'FIRST_DOSE'                    AS first_dose_column,
       'LAST_DOSE'                     AS last_dose_column,
       strftime(TRTSDT, '%d.%m.%Y')    AS first_dose_shown,
       strftime(TRTEDT, '%d.%m.%Y')    AS last_dose_shown
FROM {{ ref('patients') }}
