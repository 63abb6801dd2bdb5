-- One row per worker activity or training (activity_no within a street and year).
with

activities as (

    select * from {{ ref('int_worker_activities_deduplicated') }}

),

final as (

    select
        year,
        street_code,
        activity_no,
        title,
        category,
        project,
        held_on,
        participants,
        coalesce(date_part('year', held_on) = year, false) as is_held_in_year,
        category in ('技能培训', '综合素质培训') as is_quality_training,
        {{ fact_provenance_columns() }}
    from activities

)

select * from final
