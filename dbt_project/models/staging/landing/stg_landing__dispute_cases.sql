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
        {{ landing_provenance_columns() }}
    from source

)

select * from renamed
