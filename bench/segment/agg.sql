-- The per-customer table every segment rule of rules.py reads, from the typed
-- table orders(customer_id, t, cents) (t: Unix seconds, cents: integer).
-- One statement, the same text for SQLite (>= 3.30: FILTER) and PostgreSQL;
-- @AS_OF@ is replaced by the as-of instant in Unix seconds before it runs.
-- RFM follows RFM-SPEC.md: min-rank quintiles 1 + floor(5 * (rank - 1) / n),
-- worse first, and the R-vs-F grid; days are (as_of - t) div 86400 (t < as_of).
CREATE TABLE agg AS
WITH
c AS (
  SELECT customer_id, count(*) AS orders, sum(cents) AS cents,
         min(t) AS first_t, max(t) AS last_t,
         count(*) FILTER (WHERE t > @AS_OF@ - 30 * 86400) AS o30,
         count(*) FILTER (WHERE t > @AS_OF@ - 90 * 86400) AS o90,
         count(*) FILTER (WHERE t > @AS_OF@ - 180 * 86400) AS o180,
         count(*) FILTER (WHERE t > @AS_OF@ - 365 * 86400) AS o365
  FROM orders WHERE t < @AS_OF@ GROUP BY customer_id),
gaps AS (  -- seconds between consecutive orders of a customer
  SELECT customer_id, t - lag(t) OVER (PARTITION BY customer_id ORDER BY t) AS g
  FROM orders WHERE t < @AS_OF@),
ranked AS (
  SELECT customer_id, g,
         row_number() OVER (PARTITION BY customer_id ORDER BY g) AS rn,
         count(*) OVER (PARTITION BY customer_id) AS cnt
  FROM gaps WHERE g IS NOT NULL),
med AS (   -- twice the median gap: 2 x the middle one, or the sum of the two middle ones
  SELECT customer_id, CASE WHEN cnt % 2 = 1 THEN 2 * max(g) ELSE sum(g) END AS med2
  FROM ranked WHERE rn IN ((cnt + 1) / 2, cnt / 2 + 1) GROUP BY customer_id, cnt),
s AS (
  SELECT c.customer_id, orders, cents, o30, o90, o180, o365, med2,
         (@AS_OF@ - last_t) / 86400 AS dl, (@AS_OF@ - first_t) / 86400 AS df,
         last_t - first_t AS span,
         1 + 5 * (rank() OVER (ORDER BY (@AS_OF@ - last_t) / 86400 DESC) - 1)
             / count(*) OVER () AS r,
         1 + 5 * (rank() OVER (ORDER BY orders) - 1) / count(*) OVER () AS f,
         1 + 5 * (rank() OVER (ORDER BY cents) - 1) / count(*) OVER () AS m
  FROM c LEFT JOIN med ON med.customer_id = c.customer_id)
SELECT customer_id, orders, cents, dl, df, span, o30, o90, o180, o365, med2, r, f, m,
       CASE WHEN r = 5 AND f >= 4 THEN 'Champions'
            WHEN r >= 3 AND f >= 4 THEN 'Loyal Customers'
            WHEN r >= 4 AND f IN (2, 3) THEN 'Potential Loyalists'
            WHEN r = 5 AND f = 1 THEN 'New Customers'
            WHEN r = 4 AND f = 1 THEN 'Promising'
            WHEN r = 3 AND f = 3 THEN 'Need Attention'
            WHEN r = 3 AND f <= 2 THEN 'About to Sleep'
            WHEN r <= 2 AND f = 5 THEN 'Can''t Lose Them'
            WHEN r <= 2 AND f IN (3, 4) THEN 'At Risk'
            WHEN r = 2 THEN 'Hibernating'
            ELSE 'Lost' END AS seg
FROM s;
