-- Membership indicators per (year, street) and for the district, from the
-- de-duplicated enterprise register and the cross-street attributed members.
with

enterprises as (

    select * from {{ ref('int_enterprises_deduplicated') }}

),

members as (

    select * from {{ ref('int_members_attributed') }}

),

enterprise_counts as (

    select
        year,
        {{ street_or_district() }} as street_code,
        count(*) filter (
            where employee_count >= 100 and has_union
        ) as union_rate_100plus__numerator,
        count(*) filter (
            where employee_count >= 100
        ) as union_rate_100plus__denominator,
        count(*) filter (
            where employee_count between 25 and 99 and has_union
        ) as union_rate_25_99__numerator,
        count(*) filter (
            where employee_count between 25 and 99
        ) as union_rate_25_99__denominator,
        count(*) filter (where has_worker_council) as worker_council_enterprises__numerator
    from enterprises
    group by grouping sets ((year, street_code), (year))

),

-- one row per member and year, so count(*) is a distinct count at street and district level
member_counts as (

    select
        year,
        {{ street_or_district() }} as street_code,
        count(*) filter (where is_collected_by_year_end) as member_records__numerator,
        count(*) filter (where is_verified_by_year_end) as members_verified__numerator
    from members
    group by grouping sets ((year, street_code), (year))

),

unpivoted as (

    {{ unpivot_indicators(
        'enterprise_counts',
        ['union_rate_100plus', 'union_rate_25_99', 'worker_council_enterprises'],
        ratio_codes=['union_rate_100plus', 'union_rate_25_99'],
    ) }}

    union all

    {{ unpivot_indicators('member_counts', ['member_records', 'members_verified']) }}

)

select * from unpivoted
