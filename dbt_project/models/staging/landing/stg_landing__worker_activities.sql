with

source as (

    select * from {{ source('landing', 'worker_activities') }}

),

renamed as (

    select
        cast(year as integer) as year,
        cast(street_code as varchar) as street_code,
        'worker_activities' as report_kind,
        cast(activity_no as varchar) as activity_no,
        cast(title as varchar) as title,
        cast(category as varchar) as category,
        cast(project as varchar) as project,
        cast(held_on as date) as held_on,
        cast(participants as integer) as participants,
        {{ landing_provenance_columns() }}
    from source

)

select * from renamed
