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
        {{ landing_provenance_columns() }}
    from source

)

select * from renamed
