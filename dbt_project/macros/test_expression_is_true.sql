{#
    Generic test: every row satisfies the boolean SQL expression.
    Usage: data_tests: - expression_is_true: {expression: "a >= 0"}
#}
{% macro test_expression_is_true(model, expression) %}

select * from {{ model }}
where not coalesce(({{ expression }}), false)

{% endmacro %}
