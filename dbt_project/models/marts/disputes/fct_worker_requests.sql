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
        _period_label,
        _period_end,
        _source_file,
        _source_sheet,
        _source_row,
        _file_sha256,
        _run_id,
        _ingested_at,
        _key_row_count
    from worker_requests

)

select * from final
