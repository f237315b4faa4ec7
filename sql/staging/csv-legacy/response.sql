-- stg_<study>__response: one row per response assessment (cycle 1 or 2), codes decoded to BOR terms.
WITH source AS (SELECT * FROM {{ source('response') }}),
renamed AS (
    SELECT
        getvariable('repool_study')                                   AS STUDYID,
        getvariable('repool_study') || '-' || na(PATNR)                     AS USUBJID,
        _row, 'response.csv' AS SRCFILE,
        TRY_CAST(na(CYCLE) AS INTEGER)                  AS CYCLE,
        CASE na(RESPONSE) WHEN 'CR' THEN 'CR' WHEN 'CRh*' THEN 'CRh' WHEN 'CRi' THEN 'CRi'
            WHEN 'BFHM' THEN 'BFHM' WHEN 'PR' THEN 'PR' WHEN 'NR' THEN 'NR' WHEN 'NE' THEN 'NE' END AS RESPONSE,
        CASE na(MRD) WHEN 'neg' THEN 'Y' WHEN 'pos' THEN 'N' END AS MRDRESP,
        de_date(ASSESS_DATE)                            AS ADT
    FROM source
)
SELECT * FROM renamed
