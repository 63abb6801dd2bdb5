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

{#
    The natural key columns of a report kind: var report_kinds (dbt_project.yml), the
    mapping's `key:` of the kind.
#}
{% macro report_kind_key(report_kind) -%}
    {{ return(var('report_kinds')[report_kind]['key']) }}
{%- endmacro %}

{#
    Every loaded row of a report kind ranked once, the basis of both the de-duplication
    (the rows that count) and the audit trail of excluded rows; one window over the rows
    (partition by year, street_code and the natural key; non-superseded rows first, then
    latest_row_order) gives:
      _dedup_rank       1 = the row that counts when it is not superseded; a non-superseded
                        row's rank is its rank among the non-superseded rows of its key;
      _key_row_count    number of non-superseded rows of the key;
      winning_*         street, period label and provenance of the row that counts for the
                        key (NULL when every row of the key is superseded or the key is NULL).
    The rows are those of the kind's staging model (var report_kinds), in an incremental
    model only those of the selected streets (macros/street_batch.sql).
#}
{% macro ranked_rows(report_kind) -%}
    {%- set spec = var('report_kinds')[report_kind] -%}
    {%- set key = spec['key'] -%}
    {%- set winner_exists -%}
        first_value(_superseded_by is null) over key_rows
        {%- for column in key %} and {{ column }} is not null{% endfor %}
    {%- endset -%}
select
    *,
    row_number() over key_rows as _dedup_rank,
    count(*) filter (where _superseded_by is null) over (
        partition by year, street_code, {{ key | join(', ') }}
    ) as _key_row_count,
    {%- for column, alias in [
        ('street_code', 'winning_street_code'),
        ('_period_label', 'winning_period_label'),
        ('_source_file', 'winning_source_file'),
        ('_source_sheet', 'winning_source_sheet'),
        ('_source_row', 'winning_source_row'),
    ] %}
        case
            when {{ winner_exists }} then first_value({{ column }}) over key_rows
        end as {{ alias }}{{ "," if not loop.last }}
    {%- endfor %}
from {{ ref('stg_landing__' ~ spec['stem']) }}  -- noqa: LT02
{% if is_incremental() %}
    where {{ in_selected_streets('street_code') }}  -- noqa: LT02
{% endif %}
window key_rows as (
    partition by year, street_code, {{ key | join(', ') }}
    order by _superseded_by is not null, {{ latest_row_order() }}
)
{%- endmacro %}

{#- Predicate on ranked rows: the row counts (not superseded, first of its key). -#}
{% macro is_winning_row() -%}
    (_superseded_by is null and _dedup_rank = 1)
{%- endmacro %}

{#
    The rows of a report kind that count, one per natural key within (year, street_code):
    rows of superseded files are dropped, then the row of the latest period wins
    (latest_row_order). _key_row_count = number of non-superseded rows of the key.
    The kind's staging model and key come from var report_kinds; the body of every
    int_<stem>_deduplicated model. A kind with a `ranked` model in var report_kinds (the
    member roster, int_members_ranked: incremental by street) takes its rows from it, the
    ranking computed once; the other kinds (small) are ranked here.
#}
{% macro deduplicated_rows(report_kind) -%}
    {%- set spec = var('report_kinds')[report_kind] -%}
    {%- set key = spec['key'] -%}
    {%- if spec['ranked'] %}
select
    * exclude (
        _dedup_rank,
        winning_street_code,
        winning_period_label,
        winning_source_file,
        winning_source_sheet,
        winning_source_row
    )
from {{ ref(spec['ranked']) }}
where {{ is_winning_row() }}
    {%- else %}
with

current_rows as (

    select * from {{ ref('stg_landing__' ~ spec['stem']) }}
    where _superseded_by is null

),

ranked as (

    select
        *,
        {{ dedup_row_number(key) }} as _dedup_rank,
        count(*) over (
            partition by year, street_code, {{ key | join(', ') }}
        ) as _key_row_count
    from current_rows

),

deduplicated as (

    select * exclude (_dedup_rank)
    from ranked
    where _dedup_rank = 1

)

select * from deduplicated
    {%- endif %}
{%- endmacro %}
