-- One row per worker request (request_no within a street and year), de-duplicated.
with

worker_requests as (

    select * from {{ ref('int_worker_requests_deduplicated') }}

),

final as (

    select
        year,
        street_code,
        request_no,
        credit_code,
        raised_on,
        category,
        status,
        resolved_level,
        coalesce(date_part('year', raised_on) = year, false) as is_raised_in_year,
        coalesce(status = '已办结', false) as is_handled,
        coalesce(status = '已办结' and resolved_level = '企业内部', false)
            as is_resolved_internally,
        {{ fact_provenance_columns() }}
    from worker_requests

)

select * from final
