-- Every loaded row that does not count, with the reason and the provenance of the row
-- that counts instead (auditors' trail):
--   superseded_file     the row's file was replaced by a resubmission (_superseded_by);
--   duplicate_key       another row with the same natural key in the same (year, street)
--                       comes from a later period (or wins the deterministic tie-break);
--   attributed_to_other_street
--                       a member also reported by another street whose record was
--                       collected later; the member counts for that street.
{%- set kinds = [
    ('enterprise_register', 'stg_landing__enterprises', 'credit_code'),
    ('member_roster', 'stg_landing__members', 'person_key'),
    ('dispute_cases', 'stg_landing__dispute_cases', 'case_no'),
    ('worker_requests', 'stg_landing__worker_requests', 'request_no'),
    ('worker_activities', 'stg_landing__worker_activities', 'activity_no'),
    ('dream_program', 'stg_landing__dream_registrations', 'person_key'),
    ('hardship_assistance', 'stg_landing__hardship_payments', 'payment_no'),
    ('care_services', 'stg_landing__care_services', 'service_no'),
] %}

with

{% for kind, model, key in kinds %}
    {{ kind }}_rows as (

        select
            year,
            street_code,
            report_kind,
            cast({{ key }} as varchar) as natural_key,
            _period_label,
            _period_end,
            _superseded_by,
            _source_file,
            _source_sheet,
            _source_row,
            _file_sha256,
            _run_id,
            -- rank among the rows of the same key and the same supersession state;
            -- only non-superseded rows can win
            row_number() over (
                partition by year, street_code, {{ key }}, _superseded_by is null
                order by {{ latest_row_order() }}
            ) as dedup_rank
        from {{ ref(model) }}

    ),

{% endfor %}

all_rows as (

    {% for kind, model, key in kinds %}
        select * from {{ kind }}_rows
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

winners as (

    select * from all_rows
    where _superseded_by is null and dedup_rank = 1

),

excluded as (

    select
        *,
        case
            when _superseded_by is not null then 'superseded_file'
            else 'duplicate_key'
        end as exclusion_reason
    from all_rows
    where _superseded_by is not null or dedup_rank > 1

),

excluded_with_winner as (

    select
        excluded.year,
        excluded.street_code,
        excluded.report_kind,
        excluded.natural_key,
        excluded.exclusion_reason,
        excluded._period_label,
        excluded._period_end,
        excluded._superseded_by,
        excluded._source_file,
        excluded._source_sheet,
        excluded._source_row,
        excluded._file_sha256,
        excluded._run_id,
        winners.street_code as winning_street_code,
        winners._period_label as winning_period_label,
        winners._source_file as winning_source_file,
        winners._source_sheet as winning_source_sheet,
        winners._source_row as winning_source_row
    from excluded
    left join winners
        on
            excluded.report_kind = winners.report_kind
            and excluded.year = winners.year
            and excluded.street_code = winners.street_code
            and excluded.natural_key = winners.natural_key

),

members_deduplicated as (

    select * from {{ ref('int_members_deduplicated') }}

),

members_attributed as (

    select * from {{ ref('int_members_attributed') }}

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
        members_attributed.street_code as winning_street_code,
        members_attributed._period_label as winning_period_label,
        members_attributed._source_file as winning_source_file,
        members_attributed._source_sheet as winning_source_sheet,
        members_attributed._source_row as winning_source_row
    from members_deduplicated
    inner join members_attributed
        on
            members_deduplicated.year = members_attributed.year
            and members_deduplicated.person_key = members_attributed.person_key
    where members_deduplicated.street_code != members_attributed.street_code

),

unioned as (

    select * from excluded_with_winner
    union all
    select * from members_attributed_elsewhere

)

select * from unioned
