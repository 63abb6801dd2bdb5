with

source as (

    select * from {{ source('landing', 'quarantine') }}

),

renamed as (

    select
        cast(year as integer) as year,
        cast(street_code as varchar) as street_code,
        cast(report_kind as varchar) as report_kind,
        cast(reason_code as varchar) as reason_code,
        cast(reason as varchar) as reason,
        cast(record_json as varchar) as record_json,
        cast(_source_file as varchar) as _source_file,
        cast(_source_sheet as varchar) as _source_sheet,
        cast(_source_row as integer) as _source_row,
        cast(_file_sha256 as varchar) as _file_sha256,
        cast(_run_id as varchar) as _run_id,
        cast(_superseded_by as varchar) as _superseded_by
    from source

)

select * from renamed
