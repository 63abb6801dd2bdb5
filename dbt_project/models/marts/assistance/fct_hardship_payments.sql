-- One row per hardship-assistance payment (payment_no within a street and year).
with

payments as (

    select * from {{ ref('int_hardship_payments_deduplicated') }}

),

final as (

    select
        year,
        street_code,
        payment_no,
        paid_on,
        aid_type,
        person_key,
        amount,
        coalesce(date_part('year', paid_on) = year, false) as is_paid_in_year,
        {{ fact_provenance_columns() }}
    from payments

)

select * from final
