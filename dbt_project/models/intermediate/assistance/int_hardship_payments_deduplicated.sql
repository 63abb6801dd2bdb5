-- One row per (payment_no) within (year, street_code): rows of superseded files are
-- dropped, then the row of the latest period wins (see macro latest_row_order).
with

current_rows as (

    select * from {{ ref('stg_landing__hardship_payments') }}
    where _superseded_by is null

),

ranked as (

    select
        *,
        {{ dedup_row_number(['payment_no']) }} as _dedup_rank,
        count(*) over (
            partition by year, street_code, payment_no
        ) as _key_row_count
    from current_rows

),

deduplicated as (

    select * exclude (_dedup_rank)
    from ranked
    where _dedup_rank = 1

)

select * from deduplicated
