with

source as (

    select * from {{ source('landing', 'enterprise_register') }}

),

renamed as (

    select
        cast(year as integer) as year,
        cast(street_code as varchar) as street_code,
        'enterprise_register' as report_kind,
        cast(credit_code as varchar) as credit_code,
        cast(enterprise_name as varchar) as enterprise_name,
        cast(community as varchar) as community,
        cast(industry as varchar) as industry,
        cast(employee_count as integer) as employee_count,
        cast(has_union as boolean) as has_union,
        cast(union_founded_on as date) as union_founded_on,
        cast(has_worker_council as boolean) as has_worker_council,
        cast(is_key_enterprise as boolean) as is_key_enterprise,
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
