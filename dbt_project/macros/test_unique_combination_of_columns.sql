{#
    Generic test: the combination of columns is unique in the model.
    Usage: data_tests: - unique_combination_of_columns: {combination_of_columns: [a, b]}
#}
{% macro test_unique_combination_of_columns(model, combination_of_columns) %}

with

grouped as (

    select
        {{ combination_of_columns | join(', ') }},
        count(*) as n_rows
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}

)

select * from grouped
where n_rows > 1

{% endmacro %}
