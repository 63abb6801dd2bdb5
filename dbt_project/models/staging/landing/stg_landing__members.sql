with

source as (

    select * from {{ source('landing', 'member_roster') }}

),

renamed as (

    select
        cast(year as integer) as year,
        cast(street_code as varchar) as street_code,
        'member_roster' as report_kind,
        cast(person_key as varchar) as person_key,
        cast(gender as varchar) as gender,
        cast(employer_credit_code as varchar) as employer_credit_code,
        cast(joined_on as date) as joined_on,
        cast(collected_on as date) as collected_on,
        cast(verified as boolean) as verified,
        cast(verified_on as date) as verified_on,
        {{ landing_provenance_columns() }}
    from source

)

select * from renamed
