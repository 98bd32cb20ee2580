-- Reference RFM (RFM-SPEC.md part A, orders layout) in PostgreSQL 15.
-- psql script: reads the CSV from psql's stdin, writes the result CSV to psql's stdout.
-- Needs the psql variable as_of (Unix seconds). The input is assumed clean (no bad rows).
-- Run it through rfm_pg.sh.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET work_mem = '256MB';  -- keep the hash aggregates and sorts in memory

-- numeric is exact decimal: amounts are summed exactly, never as binary floats.
CREATE TEMP TABLE orders_raw (order_id text, customer_id text,
                              ordered_at timestamptz, amount numeric);
-- HEADER match: the CSV header must name exactly these columns
\copy orders_raw FROM pstdin WITH (FORMAT csv, HEADER match)
ANALYZE orders_raw;

COPY (
WITH
orders AS (  -- rows sharing an order_id are one order, timed by its earliest row
  SELECT customer_id, min(ordered_at) AS t, sum(amount) AS amount
  FROM orders_raw GROUP BY customer_id, order_id),
customers AS (
  SELECT customer_id,
         floor((:as_of - extract(epoch FROM max(t))) / 86400)::bigint AS recency,
         count(*) AS frequency, sum(amount) AS amount
  FROM orders WHERE t < to_timestamp(:as_of) GROUP BY customer_id),
scored AS (  -- score = 1 + floor(5 * (min_rank - 1) / n), worse customers first
  SELECT *,
         1 + 5 * (RANK() OVER (ORDER BY recency DESC) - 1) / COUNT(*) OVER () AS r,
         1 + 5 * (RANK() OVER (ORDER BY frequency) - 1) / COUNT(*) OVER () AS f,
         1 + 5 * (RANK() OVER (ORDER BY amount) - 1) / COUNT(*) OVER () AS m
  FROM customers),
numeric_ids AS MATERIALIZED (  -- numeric sort iff every input id is a non-negative integer
  SELECT NOT EXISTS (SELECT 1 FROM orders_raw WHERE customer_id !~ '^[0-9]+$') AS yes)
SELECT customer_id, recency, frequency,
       round(amount, 2)::text AS monetary,  -- exact; scale 2 gives '7.50'
       r, f, m,
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
-- otherwise (and as tie-break) byte order, i.e. the "C" collation
ORDER BY CASE WHEN yes THEN length(ltrim(customer_id, '0')) END,
         CASE WHEN yes THEN ltrim(customer_id, '0') END COLLATE "C",
         customer_id COLLATE "C"
) TO STDOUT WITH (FORMAT csv, HEADER true);
