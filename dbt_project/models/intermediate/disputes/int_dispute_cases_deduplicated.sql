-- The rows of dispute_cases that count, one per natural key within (year, street_code)
-- (macro deduplicated_rows; the key is var report_kinds, the mapping's key of the kind).
{{ deduplicated_rows('dispute_cases') }}
