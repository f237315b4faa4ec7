-- One row per pooled subject and kind of record it must have but has not (the format's
-- required_records: e.g. the record OS is derived from), reported on the subject's row.
SELECT s.file, s.row, s."column", 'missing_record' AS reason,
       'subject (' || s.file || ' row ' || s.row || ') has no ' || q.record AS value, s.subject
FROM {{ facts('subjects') }} s CROSS JOIN {{ facts('required_records') }} q
WHERE s.pooled
  AND NOT EXISTS (SELECT 1 FROM {{ facts('records') }} r WHERE r.subject = s.subject AND r.record = q.record)
