-- pooled.adsl: One row per pooled subject (randomised to and treated with blinatumomab), every study.
-- Key: USUBJID (unique across studies), STUDYID. Quarantined subjects are set aside.
-- Where (every pooled mart): each study's unit runs these models over its own intermediate models
-- (the union of a dataset is that study's int_<dataset>), so a rule here may only look within one study; the
-- run database's pooled.<dataset> is a view of the studies' rows one after another (tasks/harmonise.py).
-- Source (every pooled mart): SRCDLV delivery, SRCFILE file, SRCSHA its sha256 (joined from the run's
-- lineage, work.source_files, by study and file), SRCROW its 1-based data row; SRCROWS every delivered
-- row the record was derived from ('file:row; ...', files of the same delivery).
WITH source AS (SELECT * FROM {{ union('adsl') }}),
remission AS (
    SELECT DISTINCT STUDYID, USUBJID FROM {{ union('adrs') }}
    WHERE PARAMCD = 'BOR' AND AVALC IN ('CR', 'CRh', 'CRi')
),
kept AS (
    SELECT s.* FROM source s
    WHERE NOT EXISTS (SELECT 1 FROM work.quarantine q WHERE q.STUDYID = s.STUDYID AND q.USUBJID = s.USUBJID)
),
final AS (
    SELECT
        k.STUDYID, k.USUBJID, k.SUBJID, k.AGE, k.SEX,
        CAST(k.ECOGBL AS DOUBLE) AS ECOGBL,
        CASE WHEN k.ECOGBL IN (0, 1, 2) THEN CAST(k.ECOGBL AS VARCHAR) ELSE 'Unknown' END AS ECOG,
        k.PRHSCT,
        k.BMBLPCT,
        CASE WHEN k.BMBLPCT IS NULL THEN 'Unknown'
             WHEN k.BMBLPCT <= 5 THEN '<= 5%'
             WHEN k.BMBLPCT < 10 THEN '> 5% - < 10%'
             WHEN k.BMBLPCT < 50 THEN '10% - < 50%'
             ELSE '>= 50%' END AS BMBLCAT,
        k.SALVLINE,
        CASE WHEN k.SALVLINE = 1 THEN 'First salvage' ELSE 'Second or later salvage' END AS SALVGRP,
        k.TRTSDT, k.TRTEDT,
        CASE WHEN r.USUBJID IS NOT NULL THEN 'Y' ELSE 'N' END AS REMFL,
        k.HSCTDT, k.HSCTSTAT,
        CASE WHEN k.HSCTDT >= k.TRTSDT THEN 'Y' ELSE 'N' END AS HSCTFL,
        CASE WHEN k.HSCTDT >= k.TRTSDT AND k.HSCTSTAT = 'CR' THEN 'Y' ELSE 'N' END AS HSCTCRFL,
        CASE WHEN k.HSCTDT >= k.TRTSDT AND k.HSCTSTAT IN ('RELAPSE', 'REFRACTORY') THEN 'Y' ELSE 'N' END AS HSCTRRFL,
        k.OTHTXDT,
        CASE WHEN k.OTHTXDT >= k.TRTSDT THEN 'Y' ELSE 'N' END AS OTHTXFL,
        f.SRCDLV, k.SRCFILE, f.SRCSHA, k.SRCROW, k.SRCROWS
    FROM kept k
    LEFT JOIN remission r USING (STUDYID, USUBJID)
    LEFT JOIN work.source_files f ON f.STUDYID = k.STUDYID AND f.SRCFILE = k.SRCFILE
)
SELECT * FROM final ORDER BY STUDYID, USUBJID
