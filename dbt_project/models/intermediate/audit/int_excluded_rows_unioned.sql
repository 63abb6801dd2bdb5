-- Every loaded row that does not count, with the reason and the provenance of the row
-- that counts instead (auditors' trail):
--   superseded_file     the row's file was replaced by a resubmission (_superseded_by);
--   duplicate_key       another row with the same natural key in the same (year, street)
--                       comes from a later period (or wins the deterministic tie-break);
--   attributed_to_other_street
--                       a member also reported by another street whose record was
--                       collected later; the member counts for that street.
-- The first two are per street (int_excluded_rows_deduplicated, incremental by street);
-- the attribution is across streets: the records of int_members_multi_street (the members
-- reported by several streets) that lose the attribution. A view: audit_excluded_rows is
-- its table.
{{ config(materialized='view') }}

with

excluded_within_street as (

    select * from {{ ref('int_excluded_rows_deduplicated') }}

),

multi_street as (

    select * from {{ ref('int_members_multi_street') }}

),

members_attributed_elsewhere as (

    select
        losing.year,
        losing.street_code,
        losing.report_kind,
        losing.person_key as natural_key,
        'attributed_to_other_street' as exclusion_reason,
        losing._period_label,
        losing._period_end,
        losing._superseded_by,
        losing._source_file,
        losing._source_sheet,
        losing._source_row,
        losing._file_sha256,
        losing._run_id,
        winning.street_code as winning_street_code,
        winning._period_label as winning_period_label,
        winning._source_file as winning_source_file,
        winning._source_sheet as winning_source_sheet,
        winning._source_row as winning_source_row
    from multi_street as losing
    inner join multi_street as winning
        on
            losing.year = winning.year
            and losing.person_key = winning.person_key
            and winning._attribution_rank = 1
    where losing._attribution_rank > 1

),

unioned as (

    select * from excluded_within_street
    union all
    select * from members_attributed_elsewhere

)

select * from unioned
