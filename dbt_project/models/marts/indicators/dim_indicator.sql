with

indicators as (

    select * from {{ ref('indicators') }}

),

final as (

    select
        indicator_code,
        name_zh,
        unit,
        domain,
        report_kind,
        aggregation,
        additive,
        source_model,
        measure,
        period,
        filter,
        denominator_filter,
        phrase_style,
        measure_word,
        definition,
        report_2021_phrase,
        target_2022
    from indicators

)

select * from final
