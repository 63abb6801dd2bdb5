-- One row per (person_key) within (year, street_code): rows of superseded files are
-- dropped, then the row of the latest period wins (macro deduplicated_rows): a filter of
-- int_members_ranked (incremental by street), so a view.
{{ config(materialized='view') }}

{{ deduplicated_rows('member_roster') }}
