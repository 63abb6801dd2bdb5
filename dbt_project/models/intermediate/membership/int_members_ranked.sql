-- Every loaded member_roster row (superseded ones included) ranked once within its
-- (year, street_code, person_key) (macro ranked_rows): int_members_deduplicated (the rows
-- that count) and the member rows of int_excluded_rows_deduplicated are filters of it.
-- Incremental by street (macros/street_batch.sql): only the streets of var streets are
-- recomputed (delete+insert on street_code).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='street_code',
    on_schema_change='fail',
    pre_hook="{{ delete_selected_streets() }}",
) }}

{{ ranked_rows('member_roster') }}
