-- int_adsl (Parquet): one row per subject randomised to AND treated with blinatumomab (SOC arm and
-- untreated patients excluded).
SELECT STUDYID, USUBJID, SUBJID, AGE, SEX, ECOGBL, PRHSCT, BMBLPCT, SALVLINE,
       TRTSDT, TRTEDT, HSCTDT, HSCTSTAT, OTHTXDT
FROM {{ ref('adsl') }}
WHERE ARM = 'Blinatumomab' AND TREATED
