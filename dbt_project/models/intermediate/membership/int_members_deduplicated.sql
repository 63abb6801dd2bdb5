-- One row per (person_key) within (year, street_code): rows of superseded files are
-- dropped, then the row of the latest period wins (see macro latest_row_order).
-- Incremental by street (macros/incremental_by_street.sql): only the streets whose
-- ingestion runs changed are recomputed; a change of this SQL needs --full-refresh.
{%- set upstream = ['stg_landing__members'] %}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=incremental_by_street_pre_hooks(upstream),
    post_hook=incremental_by_street_post_hooks(upstream),
) }}

with

current_rows as (

    select * from {{ ref('stg_landing__members') }} as members
    where
        _superseded_by is null
        {% if is_incremental() %}
            and {{ street_not_recorded('members.street_code') }}
        {% endif %}

),

ranked as (

    select
        *,
        {{ dedup_row_number(['person_key']) }} as _dedup_rank,
        count(*) over (
            partition by year, street_code, person_key
        ) as _key_row_count
    from current_rows

),

deduplicated as (

    select * exclude (_dedup_rank)
    from ranked
    where _dedup_rank = 1

)

select * from deduplicated
