-- noqa: disable=LT02
-- (the layout rule cannot follow the jinja loop of this macro definition)
{#
    Turn one wide aggregate CTE into indicator rows
    (year, street_code, indicator_code, numerator, denominator).
    The CTE must have, for each code, a column <code>__numerator and, for the codes in
    ratio_codes, a column <code>__denominator. Non-ratio indicators get a NULL
    denominator. Amounts and counts are exact DECIMAL(20, 2).
#}
{% macro unpivot_indicators(cte_name, indicator_codes, ratio_codes=[]) %}
    {% for code in indicator_codes %}
        select
            year,
            street_code,
            '{{ code }}' as indicator_code,
            cast(coalesce({{ code }}__numerator, 0) as decimal(20, 2)) as numerator,
            {% if code in ratio_codes %}
                cast(coalesce({{ code }}__denominator, 0) as decimal(20, 2))
            {% else %}
                cast(null as decimal(20, 2))
            {% endif %} as denominator
        from {{ cte_name }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
{%- endmacro %}

{# Street code of a GROUPING SETS ((year, street_code), (year)) row: 'district' for the total. #}
{% macro street_or_district(street_column='street_code') -%}
    case
        when grouping({{ street_column }}) = 1 then 'district'
        else {{ street_column }}
    end
{%- endmacro %}
