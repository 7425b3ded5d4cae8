{#
    Fails for every row where `expression` (SQL over the model's columns) is not true; null counts as
    failure unless the expression handles it.
#}
{% test expression_is_true(model, expression) %}

select * from {{ model }}
where not coalesce({{ expression }}, false)

{% endtest %}
