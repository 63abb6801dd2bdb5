-- The rows that lose de-duplication within their (year, street_code), with the reason
-- and the provenance of the row that counts instead (part of the auditors' trail, see
-- int_excluded_rows_unioned):
--   superseded_file     the row's file was replaced by a resubmission (_superseded_by);
--   duplicate_key       another row with the same natural key in the same (year, street)
--                       comes from a later period (or wins the deterministic tie-break).
-- Everything here is within one street, so the model is incremental by street
-- (macros/street_batch.sql): only the streets of var streets are recomputed
-- (delete+insert on street_code).
{#- (report kind, staging model, natural key columns) of every kind: var report_kinds -#}
{%- set kinds = [] %}
{%- for kind in var('report_kinds') %}
    {%- set spec = var('report_kinds')[kind] %}
    {%- do kinds.append((kind, 'stg_landing__' ~ spec['stem'], spec['key'])) %}
{%- endfor %}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='street_code',
    on_schema_change='fail',
    pre_hook="{{ delete_selected_streets() }}",
) }}

with

{% for kind, model, key in kinds %}
    {{ kind }}_rows as (  -- noqa: LT02

        select
            year,
            street_code,
            report_kind,
            {% if key | length == 1 -%}
                cast({{ key[0] }} as varchar)
            {%- else -%}
                concat_ws('|', {{ key | join(', ') }})
            {%- endif %} as natural_key,
            _period_label,
            _period_end,
            _superseded_by,
            _source_file,
            _source_sheet,
            _source_row,
            _file_sha256,
            _run_id,
            -- rank among the rows of the same key and the same supersession state;
            -- only non-superseded rows can win
            row_number() over (
                partition by year, street_code, {{ key | join(', ') }}, _superseded_by is null
                order by {{ latest_row_order() }}
            ) as dedup_rank
        from {{ ref(model) }} as {{ kind }}
        {% if is_incremental() %}
            where {{ in_selected_streets('street_code') }}
        {% endif %}

    ),

{% endfor %}

all_rows as (

    {% for kind, model, key in kinds %}
        select * from {{ kind }}_rows
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

winners as (

    select * from all_rows
    where _superseded_by is null and dedup_rank = 1

),

excluded as (

    select
        *,
        case
            when _superseded_by is not null then 'superseded_file'
            else 'duplicate_key'
        end as exclusion_reason
    from all_rows
    where _superseded_by is not null or dedup_rank > 1

),

excluded_with_winner as (

    select
        excluded.year,
        excluded.street_code,
        excluded.report_kind,
        excluded.natural_key,
        excluded.exclusion_reason,
        excluded._period_label,
        excluded._period_end,
        excluded._superseded_by,
        excluded._source_file,
        excluded._source_sheet,
        excluded._source_row,
        excluded._file_sha256,
        excluded._run_id,
        winners.street_code as winning_street_code,
        winners._period_label as winning_period_label,
        winners._source_file as winning_source_file,
        winners._source_sheet as winning_source_sheet,
        winners._source_row as winning_source_row
    from excluded
    left join winners
        on
            excluded.report_kind = winners.report_kind
            and excluded.year = winners.year
            and excluded.street_code = winners.street_code
            and excluded.natural_key = winners.natural_key

)

select * from excluded_with_winner
