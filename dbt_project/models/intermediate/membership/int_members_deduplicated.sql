-- One row per (person_key) within (year, street_code): rows of superseded files are
-- dropped, then the row of the latest period wins (macro deduplicated_rows).
-- Incremental by street (macros/street_batch.sql): only the streets of var streets are
-- recomputed (delete+insert on street_code).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='street_code',
    on_schema_change='fail',
    pre_hook="{{ delete_selected_streets() }}",
) }}

{{ deduplicated_rows('member_roster') }}
