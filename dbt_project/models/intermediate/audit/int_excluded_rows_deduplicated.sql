-- The rows that lose de-duplication within their (year, street_code), with the reason
-- and the provenance of the row that counts instead (part of the auditors' trail, see
-- int_excluded_rows_unioned):
--   superseded_file     the row's file was replaced by a resubmission (_superseded_by);
--   duplicate_key       another row with the same natural key in the same (year, street)
--                       comes from a later period (or wins the deterministic tie-break).
-- Everything here is within one street, so the model is incremental by street
-- (macros/street_batch.sql): only the streets of var streets are recomputed
-- (delete+insert on street_code).
{#- (report kind, natural key columns, ranked model or none) of every kind: var report_kinds -#}
{%- set kinds = [] %}
{%- for kind in var('report_kinds') %}
    {%- set spec = var('report_kinds')[kind] %}
    {%- do kinds.append((kind, spec['key'], spec['ranked'])) %}
{%- endfor %}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='street_code',
    on_schema_change='fail',
    pre_hook="{{ delete_selected_streets() }}",
) }}

-- every row of a kind ranked once (macro ranked_rows; the member roster's ranking is the
-- model int_members_ranked): the rows that are not the winning row of their key are
-- excluded, with the winning row's provenance from the same window (no join)
with

{% for kind, key, ranked_model in kinds %}
    {{ kind }}_ranked as (  -- noqa: LT02

        {% if ranked_model -%}
            select * from {{ ref(ranked_model) }}
            {% if is_incremental() %}
                where {{ in_selected_streets('street_code') }}
            {% endif %}
        {%- else -%}
            {{ ranked_rows(kind) }}
        {%- endif %}

    ),

    {{ kind }}_excluded as (

        select
            year,
            street_code,
            report_kind,
            {% if key | length == 1 -%}
                cast({{ key[0] }} as varchar)
            {%- else -%}
                concat_ws('|', {{ key | join(', ') }})
            {%- endif %} as natural_key,
            case
                when _superseded_by is not null then 'superseded_file'
                else 'duplicate_key'
            end as exclusion_reason,
            _period_label,
            _period_end,
            _superseded_by,
            _source_file,
            _source_sheet,
            _source_row,
            _file_sha256,
            _run_id,
            winning_street_code,
            winning_period_label,
            winning_source_file,
            winning_source_sheet,
            winning_source_row
        from {{ kind }}_ranked
        where not {{ is_winning_row() }}

    ),

{% endfor %}

excluded as (

    {% for kind, key, ranked_model in kinds %}
        select * from {{ kind }}_excluded
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from excluded
