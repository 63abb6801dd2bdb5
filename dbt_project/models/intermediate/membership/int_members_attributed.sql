-- One row per (year, person_key): a member reported by several streets is attributed
-- to the record with the latest collected_on (ties: street_code asc, then the usual
-- latest-row order, see int_members_multi_street); that record decides street_code,
-- verified and verified_on. A member reported by one street keeps its one record. A view:
-- fct_members is its table.
{{ config(materialized='view') }}

with

members as (

    select * from {{ ref('int_members_deduplicated') }}

),

multi_street as (

    select * from {{ ref('int_members_multi_street') }}

),

reported_by_one_street as (

    select
        members.*,
        cast(1 as bigint) as n_streets_reported
    from members
    left join multi_street
        on
            members.year = multi_street.year
            and members.person_key = multi_street.person_key
            and multi_street._attribution_rank = 1
    where multi_street.person_key is null

),

attributed as (

    select * from reported_by_one_street
    union all
    select * exclude (_attribution_rank) from multi_street
    where _attribution_rank = 1

),

flagged as (

    select
        *,
        make_date(year, 12, 31) as year_end_on,
        coalesce(collected_on <= make_date(year, 12, 31), false) as is_collected_by_year_end,
        coalesce(
            verified and verified_on <= make_date(year, 12, 31), false
        ) as is_verified_by_year_end
    from attributed

)

select * from flagged
