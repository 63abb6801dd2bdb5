-- Disputes indicators per (year, street) and for the district. Event kinds count only
-- rows dated in the reporting year; de-duplicated rows are unique per key within
-- (year, street), so count(*) is the distinct count per street and its sum per district.
with

enterprises as (

    select * from {{ ref('int_enterprises_deduplicated') }}

),

dispute_cases as (

    select * from {{ ref('int_dispute_cases_deduplicated') }}
    where date_part('year', accepted_on) = year

),

worker_requests as (

    select * from {{ ref('int_worker_requests_deduplicated') }}
    where date_part('year', raised_on) = year

),

enterprise_counts as (

    select
        year,
        {{ street_or_district() }} as street_code,
        count(*) filter (where is_key_enterprise) as key_enterprises__numerator
    from enterprises
    group by grouping sets ((year, street_code), (year))

),

case_counts as (

    select
        year,
        {{ street_or_district() }} as street_code,
        count(*) as disputes_mediated__numerator,
        sum(recovered_amount) as disputes_recovered_yuan__numerator,
        count(*) filter (where workers_involved >= 30) as mass_disputes_30plus__numerator
    from dispute_cases
    group by grouping sets ((year, street_code), (year))

),

request_counts as (

    select
        year,
        {{ street_or_district() }} as street_code,
        count(*) as requests_collected__numerator,
        count(*) filter (where status = '已办结') as requests_handled__numerator,
        count(*) filter (
            where status = '已办结' and resolved_level = '企业内部'
        ) as requests_internal_rate__numerator,
        count(*) as requests_internal_rate__denominator
    from worker_requests
    group by grouping sets ((year, street_code), (year))

),

unpivoted as (

    {{ unpivot_indicators('enterprise_counts', ['key_enterprises']) }}

    union all

    {{ unpivot_indicators(
        'case_counts',
        ['disputes_mediated', 'disputes_recovered_yuan', 'mass_disputes_30plus'],
    ) }}

    union all

    {{ unpivot_indicators(
        'request_counts',
        ['requests_collected', 'requests_handled', 'requests_internal_rate'],
        ratio_codes=['requests_internal_rate'],
    ) }}

)

select * from unpivoted
