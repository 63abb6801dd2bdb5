{#
    Generic test: none of the listed columns has a NULL. One test per model instead of one
    `not_null` per column: each dbt test is also a blocking Dagster asset check, and a check
    costs a run a few events whatever it tests, so the columns of a model are checked in one
    pass. A failure returns one row per column with NULLs: column_name, null_rows.
    Usage: data_tests: - not_null_columns: {arguments: {column_names: [a, b]}}
#}
{% test not_null_columns(model, column_names) %}

with

null_counts as (

    select
        {% for column in column_names %}
            count(*) filter (where {{ column }} is null) as {{ column }}
            {%- if not loop.last %},{% endif %}
        {% endfor %}
    from {{ model }}

),

per_column as (

    {% for column in column_names %}
        select
            '{{ column }}' as column_name,
            {{ column }} as null_rows
        from null_counts
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from per_column
where null_rows > 0

{% endtest %}
