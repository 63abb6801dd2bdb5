-- One row per calendar day of every reporting year present in raw.source_files.
with

source_files as (

    select * from {{ ref('stg_landing__source_files') }}

),

year_bounds as (

    select
        min(year) as first_year,
        max(year) as last_year
    from source_files
    where year is not null

),

days as (

    select
        cast(
            unnest(
                generate_series(
                    make_date(first_year, 1, 1),
                    make_date(last_year, 12, 31),
                    interval 1 day
                )
            ) as date
        ) as date_day
    from year_bounds
    where first_year is not null

),

final as (

    select
        date_day,
        cast(date_part('year', date_day) as integer) as year,
        cast(date_part('quarter', date_day) as integer) as quarter_of_year,
        cast(date_part('month', date_day) as integer) as month_of_year,
        cast(date_part('day', date_day) as integer) as day_of_month,
        cast(date_part('isodow', date_day) as integer) as day_of_week_iso,
        date_part('isodow', date_day) in (6, 7) as is_weekend,
        strftime(date_day, '%Y') || '-Q' || cast(date_part('quarter', date_day) as varchar)
            as quarter_label,
        strftime(date_day, '%Y-%m') as month_label,
        cast(last_day(date_day) as date) as month_end_on,
        make_date(cast(date_part('year', date_day) as integer), 12, 31) as year_end_on
    from days

)

select * from final
