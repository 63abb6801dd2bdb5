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
        {{ landing_provenance_columns() }}
    from source

)

select * from renamed
