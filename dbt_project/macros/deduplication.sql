{#
    Deterministic "latest period wins" ordering shared by every de-duplication:
    latest _period_end first, then _source_file desc, _source_sheet desc (nulls last),
    _source_row desc.
#}
{% macro latest_row_order() -%}
    _period_end desc nulls last,
    _source_file desc,
    _source_sheet desc nulls last,
    _source_row desc
{%- endmacro %}

{#
    Row number of a row among the rows sharing its natural key within
    (year, street_code); 1 = the surviving row.
#}
{% macro dedup_row_number(key_columns) -%}
    row_number() over (
        partition by year, street_code, {{ key_columns | join(', ') }}
        order by {{ latest_row_order() }}
    )
{%- endmacro %}
