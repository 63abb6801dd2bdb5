-- One row per "圆梦计划" registrant (person_key within a street and year).
with

registrations as (

    select * from {{ ref('int_dream_registrations_deduplicated') }}

),

final as (

    select
        year,
        street_code,
        person_key,
        employer_credit_code,
        registered_on,
        major,
        coalesce(date_part('year', registered_on) = year, false) as is_registered_in_year,
        {{ fact_provenance_columns() }}
    from registrations

)

select * from final
