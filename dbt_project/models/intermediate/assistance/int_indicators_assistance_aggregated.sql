-- Assistance indicators per (year, street) and for the district, over payments made and
-- services given in the reporting year. Yuan sums stay exact DECIMAL.
with

payments as (

    select * from {{ ref('int_hardship_payments_deduplicated') }}
    where date_part('year', paid_on) = year

),

services as (

    select * from {{ ref('int_care_services_deduplicated') }}
    where date_part('year', served_on) = year

),

payment_counts as (

    select
        year,
        {{ street_or_district() }} as street_code,
        sum(amount) as hardship_aid_yuan__numerator,
        count(*) as hardship_aid_person_times__numerator
    from payments
    group by grouping sets ((year, street_code), (year))

),

service_counts as (

    select
        year,
        {{ street_or_district() }} as street_code,
        sum(persons) filter (where service_type = '工伤探视') as injury_visit_persons__numerator,
        count(*) filter (where service_type = '心理咨询疏导') as counseling_sessions__numerator,
        count(*) filter (where service_type = '工伤法律咨询') as legal_consultations__numerator,
        count(*) filter (where service_type = '转介驻点律师') as lawyer_referrals__numerator
    from services
    group by grouping sets ((year, street_code), (year))

),

unpivoted as (

    {{ unpivot_indicators('payment_counts', ['hardship_aid_yuan', 'hardship_aid_person_times']) }}

    union all

    {{ unpivot_indicators(
        'service_counts',
        ['injury_visit_persons', 'counseling_sessions', 'legal_consultations', 'lawyer_referrals'],
    ) }}

)

select * from unpivoted
