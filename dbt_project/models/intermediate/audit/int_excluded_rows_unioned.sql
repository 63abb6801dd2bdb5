-- Every loaded row that does not count, with the reason and the provenance of the row
-- that counts instead (auditors' trail):
--   superseded_file     the row's file was replaced by a resubmission (_superseded_by);
--   duplicate_key       another row with the same natural key in the same (year, street)
--                       comes from a later period (or wins the deterministic tie-break);
--   attributed_to_other_street
--                       a member also reported by another street whose record was
--                       collected later; the member counts for that street.
-- The first two are per street (int_excluded_rows_deduplicated, incremental by street);
-- the attribution is across streets and is recomputed in full on every build.
with

excluded_within_street as (

    select * from {{ ref('int_excluded_rows_deduplicated') }}

),

members_deduplicated as (

    select * from {{ ref('int_members_deduplicated') }}

),

members_attributed_across_streets as (

    -- only a member reported by several streets can be attributed elsewhere (a few
    -- thousand of the million members): the join below stays small

    select * from {{ ref('int_members_attributed') }}
    where n_streets_reported > 1

),

members_attributed_elsewhere as (

    select
        members_deduplicated.year,
        members_deduplicated.street_code,
        members_deduplicated.report_kind,
        members_deduplicated.person_key as natural_key,
        'attributed_to_other_street' as exclusion_reason,
        members_deduplicated._period_label,
        members_deduplicated._period_end,
        members_deduplicated._superseded_by,
        members_deduplicated._source_file,
        members_deduplicated._source_sheet,
        members_deduplicated._source_row,
        members_deduplicated._file_sha256,
        members_deduplicated._run_id,
        members_attributed_across_streets.street_code as winning_street_code,
        members_attributed_across_streets._period_label as winning_period_label,
        members_attributed_across_streets._source_file as winning_source_file,
        members_attributed_across_streets._source_sheet as winning_source_sheet,
        members_attributed_across_streets._source_row as winning_source_row
    from members_deduplicated
    inner join members_attributed_across_streets
        on
            members_deduplicated.year = members_attributed_across_streets.year
            and members_deduplicated.person_key = members_attributed_across_streets.person_key
    where members_deduplicated.street_code != members_attributed_across_streets.street_code

),

unioned as (

    select * from excluded_within_street
    union all
    select * from members_attributed_elsewhere

)

select * from unioned
