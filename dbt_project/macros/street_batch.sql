-- noqa: disable=LT02
-- (the layout rule cannot follow the jinja loop of in_selected_streets)
{#
    The streets a build recomputes in the models incremental by street, dbt's stock
    delete+insert on street_code:

        {{ config(
            materialized='incremental',
            incremental_strategy='delete+insert',
            unique_key='street_code',
            on_schema_change='fail',
            pre_hook="{{ delete_selected_streets() }}",
        ) }}
        ... from {{ ref('stg_landing__members') }}
        {% if is_incremental() %}where {{ in_selected_streets('street_code') }}{% endif %}

    var streets: the list of street codes re-ingested since the last build (Dagster passes
    the ingest step's streets_ingested as --vars '{"streets": [...]}'); absent or null:
    every street. The filter must come before any window or join, so that whole streets
    are computed.

    delete+insert deletes the target rows whose street_code is in the new batch; a selected
    street whose new batch is empty (all its files removed or superseded) has no row there,
    so the pre_hook deletes every selected street first. dbt runs the pre_hook, the
    delete+insert and the COMMIT in one transaction: a failed build changes nothing. The
    first build and --full-refresh compute every street (is_incremental() is false).
#}

{#- The var streets as a list, or none for every street. -#}
{% macro selected_streets() -%}
    {%- set streets = var('streets', none) -%}
    {%- if streets is string -%}
        {%- set streets = streets.split(',') | map('trim') | reject('equalto', '') | list -%}
    {%- endif -%}
    {{ return(streets) }}
{%- endmacro %}

{#- Predicate: the street of column street_column is one of the selected streets. -#}
{% macro in_selected_streets(street_column) -%}
    {%- set streets = selected_streets() -%}
    {%- if streets is none -%}
        true
    {%- elif streets | length == 0 -%}
        false
    {%- else -%}
        {{ street_column }} in (
            {%- for street in streets -%}
                '{{ street | replace("'", "''") }}'{{ ", " if not loop.last }}
            {%- endfor -%}
        )
    {%- endif -%}
{%- endmacro %}

{#- pre_hook: delete the selected streets' rows, also those of a street with no new row. -#}
{% macro delete_selected_streets() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ in_selected_streets('street_code') }}
    {%- endif -%}
{%- endmacro %}
