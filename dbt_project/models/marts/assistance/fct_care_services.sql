-- One row per injury-visit, counselling or legal service (service_no within a street and year).
with

services as (

    select * from {{ ref('int_care_services_deduplicated') }}

),

final as (

    select
        year,
        street_code,
        service_no,
        served_on,
        service_type,
        persons,
        coalesce(date_part('year', served_on) = year, false) as is_served_in_year,
        {{ fact_provenance_columns() }}
    from services

)

select * from final
