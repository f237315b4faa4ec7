-- int_adsl (ADaM XPT): one row per treated subject (SAFFL = 'Y'); salvage line = prior salvages + 1.
-- Source: the record's row of the delivered file (SRCFILE, SRCROW; SRCROWS the same as file:row).
SELECT STUDYID, USUBJID, SUBJID, AGE, SEX, ECOGBL, PRHSCT, BMBLPCT,
       PRSALVN + 1 AS SALVLINE, TRTSDT, TRTEDT, HSCTDT, HSCTSTAT, OTHTXDT,
       SRCFILE, _row AS SRCROW, concat(SRCFILE, ':', _row) AS SRCROWS
FROM {{ ref('adsl') }}
WHERE SAFFL = 'Y'
