-- One row per enterprise of a street's register per year (de-duplicated), with its
-- employee band for the union-rate indicators.
with

enterprises as (

    select * from {{ ref('int_enterprises_deduplicated') }}

),

final as (

    select
        year,
        street_code,
        credit_code,
        enterprise_name,
        community,
        industry,
        employee_count,
        case
            when employee_count >= 100 then '100+'
            when employee_count >= 25 then '25-99'
            else 'under_25'
        end as employee_band,
        has_union,
        union_founded_on,
        has_worker_council,
        is_key_enterprise,
        {{ fact_provenance_columns() }}
    from enterprises

)

select * from final
