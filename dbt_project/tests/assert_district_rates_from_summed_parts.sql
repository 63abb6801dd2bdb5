-- For ratio indicators: the district numerator and denominator are the sums over the
-- streets (never an average of street rates), and every value (street and district)
-- is round(100 * numerator / denominator, 1), NULL when the denominator is 0.
-- a Dagster asset check (blocking) on annual_indicators (dagster-dbt attaches a singular
-- test that refs several models to the model named here)
{{ config(meta={'dagster': {'ref': {'name': 'annual_indicators'}}}) }}
with

indicators as (

    select * from {{ ref('dim_indicator') }}
    where aggregation = 'ratio'

),

annual as (

    select annual_indicators.*
    from {{ ref('annual_indicators') }} as annual_indicators
    inner join indicators on annual_indicators.indicator_code = indicators.indicator_code

),

street_sums as (

    select
        year,
        indicator_code,
        sum(numerator) as street_numerator_sum,
        sum(denominator) as street_denominator_sum
    from annual
    where street_code != 'district'
    group by year, indicator_code

),

district_mismatches as (

    select
        annual.year,
        annual.street_code,
        annual.indicator_code,
        'district parts are not the sums of street parts' as failure
    from annual
    left join street_sums
        on
            annual.year = street_sums.year
            and annual.indicator_code = street_sums.indicator_code
    where
        annual.street_code = 'district'
        and (
            annual.numerator is distinct from street_sums.street_numerator_sum
            or annual.denominator is distinct from street_sums.street_denominator_sum
        )

),

value_mismatches as (

    select
        year,
        street_code,
        indicator_code,
        'value is not round(100 * numerator / denominator, 1)' as failure
    from annual
    where
        value is distinct from cast(
            {{ percentage('numerator', 'denominator') }} as decimal(20, 2)
        )
        or denominator is null
        or numerator > denominator

)

select * from district_mismatches
union all
select * from value_mismatches
