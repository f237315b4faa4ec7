-- int_adsl (Parquet): one row per subject randomised to AND treated with blinatumomab (SOC arm and
-- Source: the record's row of the delivered file (SRCFILE, SRCROW; SRCROWS the same as file:row).
-- untreated patients excluded).
SELECT STUDYID, USUBJID, SUBJID, AGE, SEX, ECOGBL, PRHSCT, BMBLPCT, SALVLINE,
       TRTSDT, TRTEDT, HSCTDT, HSCTSTAT, OTHTXDT,
       SRCFILE, _row AS SRCROW, concat(SRCFILE, ':', _row) AS SRCROWS
FROM {{ ref('adsl') }}
WHERE ARM = 'Blinatumomab' AND TREATED
