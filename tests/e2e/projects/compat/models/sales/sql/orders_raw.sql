{% set target = 'compat_orders_raw' %}
{% set day = execution_date %}
INSERT INTO {{ target }} (dt, order_id, amount)
SELECT '{{ day }}', n, n * 10
FROM (SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3)
