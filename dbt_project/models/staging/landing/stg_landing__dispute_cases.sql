with

source as (

    select * from {{ source('landing', 'dispute_cases') }}

),

renamed as (

    select
        cast(year as integer) as year,
        cast(street_code as varchar) as street_code,
        'dispute_cases' as report_kind,
        cast(case_no as varchar) as case_no,
        cast(accepted_on as date) as accepted_on,
        cast(enterprise_name as varchar) as enterprise_name,
        cast(credit_code as varchar) as credit_code,
        cast(workers_involved as integer) as workers_involved,
        cast(dispute_type as varchar) as dispute_type,
        cast(outcome as varchar) as outcome,
        cast(closed_on as date) as closed_on,
        cast(recovered_amount as decimal(18, 2)) as recovered_amount,
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
