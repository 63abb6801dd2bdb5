with

streets as (

    select * from {{ ref('streets') }}

),

final as (

    select
        street_code,
        name_zh,
        short_zh,
        name_en,
        sort_order
    from streets

)

select * from final
