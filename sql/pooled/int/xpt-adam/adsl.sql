-- int_adsl (ADaM XPT): one row per treated subject (SAFFL = 'Y'); salvage line = prior salvages + 1.
SELECT STUDYID, USUBJID, SUBJID, AGE, SEX, ECOGBL, PRHSCT, BMBLPCT,
       PRSALVN + 1 AS SALVLINE, TRTSDT, TRTEDT, HSCTDT, HSCTSTAT, OTHTXDT
FROM {{ ref('adsl') }}
WHERE SAFFL = 'Y'
