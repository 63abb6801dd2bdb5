-- The annual indicator mart: one row per indicator x (11 streets + district) x year
-- present in raw.source_files. Missing data is zero; a ratio with denominator 0 has a
-- NULL value. Percentages = round(100 * numerator / denominator, 1); other indicators:
-- value = numerator and denominator NULL. District ratios come from summed parts.
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

computed as (

    select * from {{ ref('int_indicators_computed') }}

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

spine as (

    select
        years.year,
        reporting_units.street_code,
        indicators.indicator_code,
        indicators.aggregation,
        indicators.unit
    from years
    cross join reporting_units
    cross join indicators

),

joined as (

    select
        spine.year,
        spine.street_code,
        spine.indicator_code,
        spine.aggregation,
        spine.unit,
        cast(coalesce(computed.numerator, 0) as decimal(20, 2)) as numerator,
        case
            when spine.aggregation = 'ratio'
                then cast(coalesce(computed.denominator, 0) as decimal(20, 2))
        end as denominator
    from spine
    left join computed
        on
            spine.year = computed.year
            and spine.street_code = computed.street_code
            and spine.indicator_code = computed.indicator_code

),

final as (

    select
        cast(year as integer) as year,
        cast(street_code as varchar) as street_code,
        cast(indicator_code as varchar) as indicator_code,
        -- each branch cast on its own: a CASE over DECIMALs of different scales
        -- would otherwise be unified to the smaller scale and round the sums
        case
            when aggregation = 'ratio'
                then cast({{ percentage('numerator', 'denominator') }} as decimal(20, 2))
            else cast(numerator as decimal(20, 2))
        end as value,
        numerator,
        denominator,
        cast(unit as varchar) as unit
    from joined

)

select * from final
