-- pooled.adae: One row per adverse event of a pooled subject. Key: STUDYID, USUBJID, AESEQ.
-- Partial onsets are imputed to the first dose when it lies in the partial period, else to the
-- period's first day (ASTDTF: 'D' day imputed, 'M' month and day imputed). TRTEMFL is re-derived:
-- onset in [first dose, last dose + window] inclusive.
WITH source AS (SELECT * FROM {{ union('adae') }}),
subjects AS (SELECT STUDYID, USUBJID, TRTSDT, TRTEDT FROM pooled.adsl),
imputed AS (
    SELECT s.*, a.TRTSDT, a.TRTEDT, f.SRCDLV, f.SRCSHA,
        CASE length(s.ASTDTC)
            WHEN 10 THEN TRY_CAST(s.ASTDTC AS DATE)
            WHEN 7 THEN CASE WHEN strftime(a.TRTSDT, '%Y-%m') = s.ASTDTC THEN a.TRTSDT
                             ELSE TRY_CAST(s.ASTDTC || '-01' AS DATE) END
            WHEN 4 THEN CASE WHEN strftime(a.TRTSDT, '%Y') = s.ASTDTC THEN a.TRTSDT
                             ELSE TRY_CAST(s.ASTDTC || '-01-01' AS DATE) END
        END AS ASTDT,
        CASE length(s.ASTDTC) WHEN 7 THEN 'D' WHEN 4 THEN 'M' END AS ASTDTF
    FROM source s
    JOIN subjects a USING (STUDYID, USUBJID)
    LEFT JOIN work.source_files f ON f.STUDYID = s.STUDYID AND f.SRCFILE = s.SRCFILE
),
final AS (
    SELECT STUDYID, USUBJID, AESEQ, AEDECOD, AETOXGR, AESER, AREL, ASTDT, ASTDTF, AEOUT,
        CASE WHEN AETOXGR = 5 OR AEOUT = 'FATAL' THEN 'Y' ELSE 'N' END AS AEFATFL,
        CASE WHEN lower(AEDECOD) = 'cytokine release syndrome' THEN 'CRS'
             WHEN lower(AEDECOD) IN ('encephalopathy', 'tremor', 'seizure', 'aphasia', 'confusional state',
                 'dysarthria', 'somnolence', 'disorientation', 'cognitive disorder', 'memory impairment',
                 'ataxia', 'dizziness', 'headache', 'paraesthesia') THEN 'NEURO' END AS AESICAT,
        CASE WHEN ASTDT >= TRTSDT AND ASTDT <= TRTEDT + {{ teae_window_days }} THEN 'Y' ELSE 'N' END AS TRTEMFL,
        SRCTEMFL,
        SRCDLV, SRCFILE, SRCSHA, SRCROW, SRCROWS
    FROM imputed
)
SELECT * FROM final ORDER BY STUDYID, USUBJID, AESEQ
