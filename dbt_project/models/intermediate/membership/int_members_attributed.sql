-- One row per (year, person_key): a member reported by several streets is attributed
-- to the record with the latest collected_on (ties: street_code asc, then the usual
-- latest-row order); that record decides street_code, verified and verified_on.
with

members as (

    select * from {{ ref('int_members_deduplicated') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by year, person_key
            order by
                collected_on desc nulls last,
                street_code asc,
                {{ latest_row_order() }}
        ) as _attribution_rank,
        count(*) over (partition by year, person_key) as n_streets_reported
    from members

),

attributed as (

    select
        * exclude (_attribution_rank),
        make_date(year, 12, 31) as year_end_on
    from ranked
    where _attribution_rank = 1

),

flagged as (

    select
        *,
        coalesce(collected_on <= year_end_on, false) as is_collected_by_year_end,
        coalesce(verified and verified_on <= year_end_on, false) as is_verified_by_year_end
    from attributed

)

select * from flagged
