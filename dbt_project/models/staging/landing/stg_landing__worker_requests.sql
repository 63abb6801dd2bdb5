with

source as (

    select * from {{ source('landing', 'worker_requests') }}

),

renamed as (

    select
        cast(year as integer) as year,
        cast(street_code as varchar) as street_code,
        'worker_requests' as report_kind,
        cast(request_no as varchar) as request_no,
        cast(credit_code as varchar) as credit_code,
        cast(raised_on as date) as raised_on,
        cast(category as varchar) as category,
        cast(status as varchar) as status,
        cast(resolved_level as varchar) as resolved_level,
        cast(_period_label as varchar) as _period_label,
        cast(_period_end as date) as _period_end,
        cast(_superseded_by as varchar) as _superseded_by,
        cast(_source_file as varchar) as _source_file,
        cast(_source_sheet as varchar) as _source_sheet,
        cast(_source_row as integer) as _source_row,
        cast(_file_sha256 as varchar) as _file_sha256,
        cast(_run_id as varchar) as _run_id,
        cast(_ingested_at as timestamp) as _ingested_at
    from source

)

select * from renamed
