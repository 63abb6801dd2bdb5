-- One row per member (person_key) and year, attributed to one street
-- (see int_members_attributed).
with

members as (

    select * from {{ ref('int_members_attributed') }}

),

final as (

    select
        year,
        person_key,
        street_code,
        gender,
        employer_credit_code,
        joined_on,
        collected_on,
        verified,
        verified_on,
        is_collected_by_year_end,
        is_verified_by_year_end,
        n_streets_reported,
        {{ fact_provenance_columns() }}
    from members

)

select * from final
