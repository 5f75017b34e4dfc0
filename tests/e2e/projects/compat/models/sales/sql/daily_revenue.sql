{% set min_amount = 20 %}
INSERT INTO compat_daily_revenue (dt, revenue, orders)
SELECT dt, SUM(amount), COUNT(*)
FROM compat_orders_raw
WHERE dt = '{{ execution_date }}' AND amount >= {{ min_amount }}
GROUP BY dt
