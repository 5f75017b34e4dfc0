INSERT INTO daily_revenue (dt, revenue, orders, min_amount)
SELECT '{{ execution_date }}', COALESCE(SUM(amount), 0), COUNT(*), {{ min_amount }}
FROM orders_raw
WHERE dt = '{{ execution_date }}' AND amount >= {{ min_amount }}
