-- Training indicators per (year, street) and for the district, over activities held and
-- registrations made in the reporting year. quality_projects and dream_enterprises are
-- distinct counts computed at each level (the district value is not a sum of streets).
with

activities as (

    select * from {{ ref('int_worker_activities_deduplicated') }}
    where date_part('year', held_on) = year

),

registrations as (

    select * from {{ ref('int_dream_registrations_deduplicated') }}
    where date_part('year', registered_on) = year

),

activity_counts as (

    select
        year,
        {{ street_or_district() }} as street_code,
        count(*) as worker_events__numerator,
        sum(participants) as worker_event_person_times__numerator,
        count(*) filter (where category = '党史学习教育') as party_history_sessions__numerator,
        count(*) filter (where category = '关爱慰问') as care_events__numerator,
        sum(participants) filter (where category = '关爱慰问') as care_person_times__numerator,
        count(*) filter (where category = '心理健康') as psych_events__numerator,
        sum(participants) filter (where category = '心理健康') as psych_person_times__numerator,
        count(distinct project) filter (
            where category in ('技能培训', '综合素质培训')
        ) as quality_projects__numerator,
        sum(participants) filter (
            where category = '技能培训'
        ) as skills_training_person_times__numerator,
        sum(participants) filter (
            where category = '综合素质培训'
        ) as general_training_person_times__numerator
    from activities
    group by grouping sets ((year, street_code), (year))

),

registration_counts as (

    select
        year,
        {{ street_or_district() }} as street_code,
        count(*) as dream_registrants__numerator,
        count(distinct employer_credit_code) as dream_enterprises__numerator
    from registrations
    group by grouping sets ((year, street_code), (year))

),

unpivoted as (

    {{ unpivot_indicators(
        'activity_counts',
        [
            'worker_events',
            'worker_event_person_times',
            'party_history_sessions',
            'care_events',
            'care_person_times',
            'psych_events',
            'psych_person_times',
            'quality_projects',
            'skills_training_person_times',
            'general_training_person_times',
        ],
    ) }}

    union all

    {{ unpivot_indicators('registration_counts', ['dream_registrants', 'dream_enterprises']) }}

)

select * from unpivoted
