-- Reference RFM (RFM-SPEC.md part A, orders layout) in SQLite >= 3.38.
-- Expects table orders_raw(order_id, customer_id, ordered_at, amount), all TEXT as
-- created by `.import --csv`, and the parameter @as_of (Unix seconds). The input is
-- assumed clean (no bad rows). Run it through rfm_sqlite.sh.
WITH
lines AS (   -- amount text -> exact integer cents ('7.5' -> 750), no REAL involved
  SELECT order_id, customer_id, unixepoch(ordered_at) AS t,
         CASE WHEN instr(amount, '.') = 0 THEN CAST(amount AS INTEGER) * 100
              ELSE CAST(substr(amount, 1, instr(amount, '.') - 1) AS INTEGER) * 100
                 + CAST(substr(substr(amount, instr(amount, '.') + 1) || '00', 1, 2) AS INTEGER)
         END AS cents
  FROM orders_raw),
orders AS (  -- rows sharing an order_id are one order, timed by its earliest row
  SELECT customer_id, min(t) AS t, sum(cents) AS cents
  FROM lines GROUP BY customer_id, order_id),
customers AS (
  SELECT customer_id, (@as_of - max(t)) / 86400 AS recency,  -- t < A: int division = floor
         count(*) AS frequency, sum(cents) AS cents
  FROM orders WHERE t < @as_of GROUP BY customer_id),
scored AS (  -- score = 1 + floor(5 * (min_rank - 1) / n), worse customers first
  SELECT *,
         1 + 5 * (RANK() OVER (ORDER BY recency DESC) - 1) / COUNT(*) OVER () AS r,
         1 + 5 * (RANK() OVER (ORDER BY frequency) - 1) / COUNT(*) OVER () AS f,
         1 + 5 * (RANK() OVER (ORDER BY cents) - 1) / COUNT(*) OVER () AS m
  FROM customers),
numeric_ids AS (  -- sort numerically only if every input id is a non-negative integer
  SELECT NOT EXISTS (SELECT 1 FROM orders_raw
                     WHERE customer_id = '' OR customer_id GLOB '*[^0-9]*') AS yes)
SELECT customer_id, recency, frequency,
       printf('%d.%02d', cents / 100, cents % 100) AS monetary, r, f, m,
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
            ELSE 'Lost' END AS segment
FROM scored, numeric_ids
-- numeric order for any length = (digit count, digits) without leading zeros;
-- otherwise (and as tie-break) BINARY collation = byte order
ORDER BY CASE WHEN yes THEN length(ltrim(customer_id, '0')) END,
         CASE WHEN yes THEN ltrim(customer_id, '0') END,
         customer_id;
