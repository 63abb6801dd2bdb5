with

source as (

    select * from {{ source('landing', 'source_files') }}

),

renamed as (

    select
        cast(year as integer) as year,
        cast(street_code as varchar) as street_code,
        cast(report_kind as varchar) as report_kind,
        cast(file_format as varchar) as file_format,
        cast(status as varchar) as status,
        cast(reason_code as varchar) as reason_code,
        cast(reason as varchar) as reason,
        cast(encoding as varchar) as encoding,
        cast(sheets_read as varchar) as sheets_read,
        cast(notes as varchar) as notes,
        cast(version as integer) as version,
        cast(superseded_by as varchar) as superseded_by,
        cast(rows_data as integer) as rows_data,
        cast(rows_loaded as integer) as rows_loaded,
        cast(rows_quarantined as integer) as rows_quarantined,
        cast(rows_skipped as integer) as rows_skipped,
        cast(_source_file as varchar) as _source_file,
        cast(_file_sha256 as varchar) as _file_sha256,
        cast(_period_label as varchar) as _period_label,
        cast(_period_end as date) as _period_end,
        cast(_run_id as varchar) as _run_id
    from source

)

select * from renamed
