with

source as (

    select * from {{ source('landing', 'dream_program') }}

),

renamed as (

    select
        cast(year as integer) as year,
        cast(street_code as varchar) as street_code,
        'dream_program' as report_kind,
        cast(person_key as varchar) as person_key,
        cast(employer_credit_code as varchar) as employer_credit_code,
        cast(registered_on as date) as registered_on,
        cast(major as varchar) as major,
        {{ landing_provenance_columns() }}
    from source

)

select * from renamed
