-- Every loaded row either survives de-duplication or is listed in
-- int_excluded_rows_unioned as superseded_file / duplicate_key, per report kind.
-- a Dagster asset check (blocking) on int_excluded_rows_unioned (dagster-dbt attaches a singular
-- test that refs several models to the model named here)
{{ config(meta={'dagster': {'ref': {'name': 'int_excluded_rows_unioned'}}}) }}
{%- set kinds = [
    ('enterprise_register', 'stg_landing__enterprises', 'int_enterprises_deduplicated'),
    ('member_roster', 'stg_landing__members', 'int_members_deduplicated'),
    ('dispute_cases', 'stg_landing__dispute_cases', 'int_dispute_cases_deduplicated'),
    ('worker_requests', 'stg_landing__worker_requests', 'int_worker_requests_deduplicated'),
    (
        'worker_activities',
        'stg_landing__worker_activities',
        'int_worker_activities_deduplicated',
    ),
    (
        'dream_program',
        'stg_landing__dream_registrations',
        'int_dream_registrations_deduplicated',
    ),
    (
        'hardship_assistance',
        'stg_landing__hardship_payments',
        'int_hardship_payments_deduplicated',
    ),
    ('care_services', 'stg_landing__care_services', 'int_care_services_deduplicated'),
] %}

with

excluded as (

    select * from {{ ref('int_excluded_rows_unioned') }}
    where exclusion_reason in ('superseded_file', 'duplicate_key')

),

counts as (

    {% for kind, staging_model, deduplicated_model in kinds %}
        select
            '{{ kind }}' as report_kind,
            (select count(*) from {{ ref(staging_model) }}) as loaded_rows,
            (select count(*) from {{ ref(deduplicated_model) }}) as surviving_rows,
            (
                select count(*) from excluded
                where report_kind = '{{ kind }}'
            ) as excluded_rows
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from counts
where loaded_rows != surviving_rows + excluded_rows
