-- noqa: disable=LT02
-- (the layout rule cannot follow the jinja of these macro definitions)
{#
    The indicator catalog (seeds/indicators.csv) as a list of dicts, read from the loaded
    seed at compile time (run_query; the calling model declares
    `-- depends_on: {{ ref('indicators') }}`). Each row is checked: source_model must be the
    fct model of a report kind (var report_kinds: only those are declared as dependencies)
    and measure one of count, sum:<column>, count_distinct:<column>. At parse time (and for
    sqlfluff) there is no database: one example row keeps the SQL in its full shape.
#}
{% macro indicator_catalog() -%}
    {%- set rows = [] %}
    {%- if execute %}
        {%- set fct_models = [] %}
        {%- for kind in var('report_kinds') %}
            {%- do fct_models.append(var('report_kinds')[kind]['fct']) %}
        {%- endfor %}
        {%- set result = run_query(
            'select indicator_code, aggregation, source_model, measure, period, filter, '
            ~ 'denominator_filter from ' ~ ref('indicators') ~ ' order by indicator_code'
        ) %}
        {%- for row in result.rows %}
            {%- set entry = {
                'indicator_code': row['indicator_code'],
                'aggregation': row['aggregation'],
                'source_model': row['source_model'],
                'measure': row['measure'],
                'period': row['period'],
                'filter': row['filter'],
                'denominator_filter': row['denominator_filter'],
            } %}
            {%- if entry.source_model not in fct_models %}
                {{ exceptions.raise_compiler_error(
                    'seeds/indicators.csv, indicator ' ~ entry.indicator_code
                    ~ ': source_model ' ~ entry.source_model ~ ' is not the fct model of a report'
                    ~ ' kind (one of ' ~ fct_models | join(', ') ~ '; var report_kinds)'
                ) }}
            {%- endif %}
            {%- set kind = (entry.measure or '').split(':')[0] %}
            {%- if kind not in ('count', 'sum', 'count_distinct')
                or (kind != 'count' and ':' not in entry.measure) %}
                {{ exceptions.raise_compiler_error(
                    'seeds/indicators.csv, indicator ' ~ entry.indicator_code ~ ': measure '
                    ~ entry.measure ~ ' is not count, sum:<column> or count_distinct:<column>'
                ) }}
            {%- endif %}
            {%- do rows.append(entry) %}
        {%- endfor %}
    {%- else %}
        {%- do rows.append({
            'indicator_code': 'example_rate',
            'aggregation': 'ratio',
            'source_model': 'fct_example',
            'measure': 'sum:amount',
            'period': 'is_in_year',
            'filter': "category = 'a'",
            'denominator_filter': none,
        }) %}
    {%- endif %}
    {{ return(rows) }}
{%- endmacro %}

{#
    A catalog predicate as one SQL condition: the non-empty parts joined by `and`, a part
    with `or` parenthesised. orchestration/lib/trace.py (indicator_predicate) joins them
    the same way.
#}
{% macro indicator_predicate(parts) -%}
    {%- set conditions = [] %}
    {%- for part in parts if part %}
        {%- do conditions.append('(' ~ part ~ ')' if ' or ' in part | lower else part) %}
    {%- endfor %}
    {{- conditions | join(' and ') -}}
{%- endmacro %}

{#
    The aggregate of an indicator measure (count, sum:<column>, count_distinct:<column>)
    over the rows where the predicate parts hold.
#}
{% macro indicator_measure(measure, parts) -%}
    {%- set kind = measure.split(':')[0] %}
    {%- set column = measure.split(':')[1] if ':' in measure else none %}
    {%- set condition = indicator_predicate(parts) %}
    {%- if kind == 'count' -%}
        count(*)
    {%- elif kind == 'sum' -%}
        sum({{ column }})
    {%- else -%}
        count(distinct {{ column }})
    {%- endif %}
    {%- if condition | trim %} filter (where {{ condition }}){% endif %}
{%- endmacro %}
