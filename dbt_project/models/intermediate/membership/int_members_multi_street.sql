-- The de-duplicated member records of the members reported by several streets in a year
-- (a few thousand of the million members), ranked for attribution: the record with the
-- latest collected_on wins (ties: street_code asc, then the usual latest-row order). The
-- members reported by one street need no ranking: int_members_attributed takes their one
-- record as it is.
with

members as (

    select * from {{ ref('int_members_deduplicated') }}

),

several_streets as (

    select
        year,
        person_key,
        count(*) as n_streets_reported
    from members
    group by year, person_key
    having count(*) > 1

),

reported_by_several as (

    select
        members.*,
        several_streets.n_streets_reported
    from members
    inner join several_streets
        on
            members.year = several_streets.year
            and members.person_key = several_streets.person_key

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
        ) as _attribution_rank
    from reported_by_several

)

select * from ranked
