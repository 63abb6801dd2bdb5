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
        _period_label,
        _period_end,
        _source_file,
        _source_sheet,
        _source_row,
        _file_sha256,
        _run_id,
        _ingested_at,
        _key_row_count
    from payments

)

select * from final
