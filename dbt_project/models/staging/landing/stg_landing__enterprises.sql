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
        {{ landing_provenance_columns() }}
    from source

)

select * from renamed
