-- For indicators with additive = true, the district value (and numerator) must equal
-- the sum over the streets (dim_street), for every year. Returns the offending rows.
-- a Dagster asset check (blocking) on annual_indicators (dagster-dbt attaches a singular
-- test that refs several models to the model named here)
{{ config(meta={'dagster': {'ref': {'name': 'annual_indicators'}}}) }}
with

indicators as (

    select * from {{ ref('dim_indicator') }}
    where additive

),

annual as (

    select * from {{ ref('annual_indicators') }}

),

street_sums as (

    select
        annual.year,
        annual.indicator_code,
        sum(annual.value) as street_value_sum,
        sum(annual.numerator) as street_numerator_sum
    from annual
    inner join indicators on annual.indicator_code = indicators.indicator_code
    where annual.street_code != 'district'
    group by annual.year, annual.indicator_code

),

district as (

    select
        annual.year,
        annual.indicator_code,
        annual.value as district_value,
        annual.numerator as district_numerator
    from annual
    inner join indicators on annual.indicator_code = indicators.indicator_code
    where annual.street_code = 'district'

),

compared as (

    select
        coalesce(district.year, street_sums.year) as year,
        coalesce(district.indicator_code, street_sums.indicator_code) as indicator_code,
        district.district_value,
        street_sums.street_value_sum,
        district.district_numerator,
        street_sums.street_numerator_sum
    from district
    full outer join street_sums
        on
            district.year = street_sums.year
            and district.indicator_code = street_sums.indicator_code

)

select * from compared
where
    district_value is distinct from street_value_sum
    or district_numerator is distinct from street_numerator_sum
