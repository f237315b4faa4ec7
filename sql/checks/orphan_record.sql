-- One row per record whose subject is not in the study's subject-level file (patients.csv / ADSL),
-- whichever arm or treatment flag that subject has there.
SELECT r.file, r.row, r."column", 'orphan_record' AS reason, r.subject AS value, r.subject
FROM {{ facts('records') }} r
WHERE NOT EXISTS (SELECT 1 FROM {{ facts('subjects') }} s WHERE s.subject = r.subject)
