-- noqa: disable=LT02
-- (the layout rule cannot follow the jinja loops of these macro definitions)
{#
    Models kept up to date street by street, for models whose rows of a street depend only
    on that street's rows in the upstream models:

        {%- set upstream = ['stg_landing__members'] %}
        {{ config(
            materialized='incremental',
            incremental_strategy='append',
            on_schema_change='fail',
            pre_hook=incremental_by_street_pre_hooks(upstream),
            post_hook=incremental_by_street_post_hooks(upstream),
        ) }}
        ... from {{ ref('stg_landing__members') }} as members
        {% if is_incremental() %}where {{ street_not_recorded('members.street_code') }}{% endif %}

    The filter must come before any window or join, so that whole streets are computed.

    Change detection, from the data alone: ingestion re-ingests a street by deleting all its
    raw rows (of every year in scope) and inserting the new ones stamped with the new run's
    _run_id, and leaves unchanged streets alone. So a street's rows change when, and only
    when, the set of distinct (year, _run_id) of its upstream rows does (year included because
    a run may re-ingest only some years; a run id is never reused for other rows).

    The table {{ this }}__street_runs (next to {{ this }}) records that set for every street
    {{ this }} holds up to date (invariant: a recorded street's rows in {{ this }} are complete
    and computed from upstream rows with the recorded set). An incremental run:
      1. pre_hook  forget_changed_streets: creates the record if missing (empty) and removes
                   the streets whose set differs from the upstream one, in both directions:
                   re-ingested streets, and streets whose files were all removed (recorded
                   only); new streets are not recorded anyway;
      2. pre_hook  delete_unrecorded_streets: deletes from {{ this }} the rows of the streets
                   not recorded;
      3. model     computes the upstream rows of the streets not recorded (street_not_recorded)
                   and appends them;
      4. post_hook record_street_runs: records the upstream set of every street.
    A street whose rows produce no output (e.g. all superseded) is recorded like any other
    and not recomputed: that is why the record is kept apart from {{ this }}, which cannot
    tell such a street from one not computed yet.

    Every step keeps the invariant, so a run stopped anywhere leaves a consistent state that
    the next run completes; besides, dbt runs the steps in one transaction (BEGIN before the
    pre_hooks, COMMIT after the post_hook): a failed or crashed run changes nothing at all. If the record is lost it is re-created empty: every
    street is then recomputed (a full rebuild). The first build and --full-refresh compute
    every street (is_incremental() false: steps 1-2 and the filter are skipped) and record them.

    A change of the model's SQL needs `dbt build --full-refresh`: the rows of the unchanged
    streets are kept as they are. on_schema_change='fail' stops a column change early instead
    of leaving NULL in a new column of the kept rows (what sync_all_columns would do).
#}

{#- The record of the (street_code, year, _run_id) {{ this }} is up to date with. -#}
{% macro street_runs_relation() -%}
    {{ return(this.incorporate(path={'identifier': this.identifier ~ '__street_runs'})) }}
{%- endmacro %}

{#- The hooks of a model incremental by street (parse time: strings rendered at run time). -#}
{% macro incremental_by_street_pre_hooks(models) -%}
    {{ return([
        "{{ forget_changed_streets(" ~ models ~ ") }}",
        "{{ delete_unrecorded_streets() }}",
    ]) }}
{%- endmacro %}

{% macro incremental_by_street_post_hooks(models) -%}
    {{ return(["{{ record_street_runs(" ~ models ~ ") }}"]) }}
{%- endmacro %}

{#- The distinct (street_code, year, _run_id) of the rows of the upstream models. -#}
{% macro street_run_ids(models) -%}
    {% for name in models %}
        select distinct
            street_code,
            year,
            _run_id
        from {{ ref(name) }}
        {% if not loop.last %}union{% endif %}
    {% endfor %}
{%- endmacro %}

{#- 1. Create the record if missing; forget the streets whose set of (year, _run_id) differs. -#}
{% macro forget_changed_streets(models) -%}
    {%- if is_incremental() %}
        create table if not exists {{ street_runs_relation() }} as
        select * from ({{ street_run_ids(models) }}) as upstream
        where false;

        delete from {{ street_runs_relation() }} as recorded
        where exists (
            with

            upstream as (
                {{ street_run_ids(models) }}
            ),

            current_record as (
                select
                    street_code,
                    year,
                    _run_id
                from {{ street_runs_relation() }}
            ),

            differing as (
                (select * from upstream except select * from current_record)
                union all
                (select * from current_record except select * from upstream)
            )

            select 1 from differing
            where differing.street_code is not distinct from recorded.street_code
        )
    {%- endif %}
{%- endmacro %}

{#- 2. Delete from {{ this }} the rows of the streets not recorded. -#}
{% macro delete_unrecorded_streets() -%}
    {%- if is_incremental() %}
        delete from {{ this }} as built
        where not {{ street_recorded('built.street_code') }}
    {%- endif %}
{%- endmacro %}

{#- 3. Filter of the upstream rows to compute: their street is not recorded (NULL-safe). -#}
{% macro street_not_recorded(street_column) -%}
    not {{ street_recorded(street_column) }}
{%- endmacro %}

{% macro street_recorded(street_column) -%}
    exists (
        select 1
        from {{ street_runs_relation() }} as recorded
        where recorded.street_code is not distinct from {{ street_column }}
    )
{%- endmacro %}

{#- 4. Record the (street_code, year, _run_id) of the upstream rows (every build). -#}
{% macro record_street_runs(models) -%}
    create or replace table {{ street_runs_relation() }} as
    {{ street_run_ids(models) }}
{%- endmacro %}
