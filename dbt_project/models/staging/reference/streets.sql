-- The district's streets as the run's ingestion wrote them (raw.streets, from the configured
-- streets list GONGHUI_STREETS, default mapping/streets.csv). Named `streets`, as the seed it
-- replaces, so the relationships tests `to: ref('streets')` read the configured list.
with

source as (

    select * from {{ source('landing', 'streets') }}

),

renamed as (

    select
        cast(street_code as varchar) as street_code,
        cast(name_zh as varchar) as name_zh,
        cast(coalesce(nullif(short_zh, ''), name_zh) as varchar) as short_zh,
        cast(nullif(name_en, '') as varchar) as name_en,
        cast(sort_order as integer) as sort_order
    from source

)

select * from renamed
