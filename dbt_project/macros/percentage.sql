{#
    Percentage shown to one decimal: round(100 * numerator / denominator, 1),
    NULL when the denominator is 0 or NULL. The quotient is taken to 9 decimals
    first so binary floating point noise cannot flip a half-way rounding.
#}
{% macro percentage(numerator, denominator) -%}
    case
        when coalesce({{ denominator }}, 0) = 0 then null
        else round(
            cast(100.0 * {{ numerator }} / {{ denominator }} as decimal(38, 9)), 1
        )
    end
{%- endmacro %}
