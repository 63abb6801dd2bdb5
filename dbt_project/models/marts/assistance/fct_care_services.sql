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
        _period_label,
        _period_end,
        _source_file,
        _source_sheet,
        _source_row,
        _file_sha256,
        _run_id,
        _ingested_at,
        _key_row_count
    from services

)

select * from final
