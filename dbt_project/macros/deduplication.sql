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
    The rows of a report kind that count, one per natural key within (year, street_code):
    rows of superseded files are dropped, then the row of the latest period wins
    (latest_row_order). _key_row_count = number of non-superseded rows of the key.
    The kind's staging model and key come from var report_kinds; the body of every
    int_<stem>_deduplicated model. In an incremental model (int_members_deduplicated) only
    the selected streets' rows are read (macros/street_batch.sql).
#}
{% macro deduplicated_rows(report_kind) -%}
    {%- set spec = var('report_kinds')[report_kind] -%}
    {%- set key = spec['key'] -%}
with

current_rows as (

    select * from {{ ref('stg_landing__' ~ spec['stem']) }}
    where
        _superseded_by is null
        {% if is_incremental() %}
            and {{ in_selected_streets('street_code') }}  -- noqa: LT02
        {% endif %}

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
{%- endmacro %}
