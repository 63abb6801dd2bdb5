-- annual_indicators holds exactly one row for every indicator of the seed x every
-- street + district x every year present in raw.source_files, and no other row; and no
-- computed indicator row falls outside that spine (it would be silently dropped).
-- a Dagster asset check (blocking) on annual_indicators (dagster-dbt attaches a singular
-- test that refs several models to the model named here)
{{ config(meta={'dagster': {'ref': {'name': 'annual_indicators'}}}) }}
with

indicators as (

    select * from {{ ref('dim_indicator') }}

),

streets as (

    select * from {{ ref('dim_street') }}

),

source_files as (

    select * from {{ ref('stg_landing__source_files') }}

),

annual as (

    select * from {{ ref('annual_indicators') }}

),

computed as (

    select
        year,
        street_code,
        indicator_code
    from {{ ref('int_indicators_computed') }}

),

years as (

    select distinct year from source_files
    where year is not null

),

reporting_units as (

    select street_code from streets
    union all
    select 'district' as street_code

),

expected as (

    select
        years.year,
        reporting_units.street_code,
        indicators.indicator_code
    from years
    cross join reporting_units
    cross join indicators

),

actual as (

    select
        year,
        street_code,
        indicator_code,
        count(*) as n_rows
    from annual
    group by year, street_code, indicator_code

),

missing_or_duplicated as (

    select
        coalesce(expected.year, actual.year) as year,
        coalesce(expected.street_code, actual.street_code) as street_code,
        coalesce(expected.indicator_code, actual.indicator_code) as indicator_code,
        case
            when actual.n_rows is null then 'missing'
            when expected.indicator_code is null then 'unexpected'
            else 'duplicated'
        end as failure
    from expected
    full outer join actual
        on
            expected.year = actual.year
            and expected.street_code = actual.street_code
            and expected.indicator_code = actual.indicator_code
    where
        actual.n_rows is null
        or expected.indicator_code is null
        or actual.n_rows > 1

),

computed_outside_spine as (

    select
        computed.year,
        computed.street_code,
        computed.indicator_code,
        'computed but outside the spine' as failure
    from computed
    left join expected
        on
            computed.year = expected.year
            and computed.street_code = expected.street_code
            and computed.indicator_code = expected.indicator_code
    where expected.indicator_code is null

)

select * from missing_or_duplicated
union all
select * from computed_outside_spine
