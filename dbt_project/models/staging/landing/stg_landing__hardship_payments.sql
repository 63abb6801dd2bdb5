with

source as (

    select * from {{ source('landing', 'hardship_assistance') }}

),

renamed as (

    select
        cast(year as integer) as year,
        cast(street_code as varchar) as street_code,
        'hardship_assistance' as report_kind,
        cast(payment_no as varchar) as payment_no,
        cast(paid_on as date) as paid_on,
        cast(aid_type as varchar) as aid_type,
        cast(person_key as varchar) as person_key,
        cast(amount as decimal(18, 2)) as amount,
        {{ landing_provenance_columns() }}
    from source

)

select * from renamed
