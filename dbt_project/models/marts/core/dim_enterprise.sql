-- One row per credit code seen in any report kind. Name, street, community and industry
-- come from the latest enterprise register row (latest year; ties: street_code asc, then
-- the latest-row order); when the enterprise is not in any register, the name comes from
-- its latest dispute case.
with

register as (

    select * from {{ ref('int_enterprises_deduplicated') }}

),

members as (

    select * from {{ ref('int_members_deduplicated') }}

),

dispute_cases as (

    select * from {{ ref('int_dispute_cases_deduplicated') }}

),

worker_requests as (

    select * from {{ ref('int_worker_requests_deduplicated') }}

),

dream_registrations as (

    select * from {{ ref('int_dream_registrations_deduplicated') }}

),

sightings as (

    select
        credit_code,
        year,
        report_kind
    from register
    union all
    select
        employer_credit_code as credit_code,
        year,
        report_kind
    from members
    union all
    select
        credit_code,
        year,
        report_kind
    from dispute_cases
    union all
    select
        credit_code,
        year,
        report_kind
    from worker_requests
    union all
    select
        employer_credit_code as credit_code,
        year,
        report_kind
    from dream_registrations

),

sighting_summary as (

    select
        credit_code,
        min(year) as first_seen_year,
        max(year) as last_seen_year,
        string_agg(distinct report_kind, ',' order by report_kind) as seen_in_report_kinds
    from sightings
    where credit_code is not null
    group by credit_code

),

latest_register as (

    select
        credit_code,
        enterprise_name,
        street_code,
        community,
        industry,
        employee_count,
        year
    from register
    qualify row_number() over (
            partition by credit_code
            order by year desc, street_code asc, {{ latest_row_order() }}
        ) = 1

),

latest_dispute_name as (

    select
        credit_code,
        enterprise_name
    from dispute_cases
    where credit_code is not null
    qualify row_number() over (
            partition by credit_code
            order by year desc, accepted_on desc, street_code asc, {{ latest_row_order() }}
        ) = 1

),

final as (

    select
        sighting_summary.credit_code,
        coalesce(
            latest_register.enterprise_name, latest_dispute_name.enterprise_name
        ) as enterprise_name,
        latest_register.street_code,
        latest_register.community,
        latest_register.industry,
        latest_register.employee_count as latest_employee_count,
        latest_register.year as latest_register_year,
        latest_register.credit_code is not null as is_in_enterprise_register,
        sighting_summary.first_seen_year,
        sighting_summary.last_seen_year,
        sighting_summary.seen_in_report_kinds
    from sighting_summary
    left join latest_register
        on sighting_summary.credit_code = latest_register.credit_code
    left join latest_dispute_name
        on sighting_summary.credit_code = latest_dispute_name.credit_code

)

select * from final
