-- Every indicator of the catalog (seeds/indicators.csv, read at compile time by macro
-- indicator_catalog) per (year, street) and for the district: one aggregate per source
-- (fct) model over grouping sets ((year, street_code), (year)), so distinct counts are
-- distinct over the district and every other measure of the district is its street sum.
-- numerator = measure where period and filter; denominator (ratios) = measure where period
-- and denominator_filter.
-- depends_on: {{ ref('indicators') }}
{% for kind in var('report_kinds') -%}
-- depends_on: {{ ref(var('report_kinds')[kind]['fct']) }}
{% endfor -%}
{%- set catalog = indicator_catalog() %}
{%- set source_models = catalog | map(attribute='source_model') | unique | list %}

with

{% for model in source_models %}
    {%- set indicators = catalog | selectattr('source_model', 'equalto', model) | list %}
    {{ model }}_measures as (

        select
            {%- for ind in indicators %}
                {%- set code = ind.indicator_code %}
                {%- set parts = [ind.period, ind.filter] %}
                {{ indicator_measure(ind.measure, parts) }} as {{ code }}__numerator,
                {%- if ind.aggregation == 'ratio' %}
                    {%- set parts = [ind.period, ind.denominator_filter] %}
                    {{ indicator_measure(ind.measure, parts) }} as {{ code }}__denominator,
                {%- endif %}
            {%- endfor %}
            year,
            {{ street_or_district() }} as street_code
        from {{ ref(model) if execute else model }}
        group by grouping sets ((year, street_code), (year))

    ),

{% endfor %}

unpivoted as (

    {% for model in source_models %}
        {%- set indicators = catalog | selectattr('source_model', 'equalto', model) | list %}
        {{ unpivot_indicators(
            model ~ '_measures',
            indicators | map(attribute='indicator_code') | list,
            ratio_codes=indicators | selectattr('aggregation', 'equalto', 'ratio')
            | map(attribute='indicator_code') | list,
        ) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unpivoted
