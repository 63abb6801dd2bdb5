-- One row per dispute case (case_no within a street and year), de-duplicated.
with

dispute_cases as (

    select * from {{ ref('int_dispute_cases_deduplicated') }}

),

final as (

    select
        year,
        street_code,
        case_no,
        accepted_on,
        enterprise_name,
        credit_code,
        workers_involved,
        dispute_type,
        outcome,
        closed_on,
        recovered_amount,
        coalesce(date_part('year', accepted_on) = year, false) as is_accepted_in_year,
        coalesce(workers_involved >= 30, false) as is_mass_dispute,
        {{ fact_provenance_columns() }}
    from dispute_cases

)

select * from final
