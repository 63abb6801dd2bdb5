with

source as (

    select * from {{ source('landing', 'care_services') }}

),

renamed as (

    select
        cast(year as integer) as year,
        cast(street_code as varchar) as street_code,
        'care_services' as report_kind,
        cast(service_no as varchar) as service_no,
        cast(served_on as date) as served_on,
        cast(service_type as varchar) as service_type,
        cast(persons as integer) as persons,
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
