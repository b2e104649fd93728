--
-- Types: every value arrives as a string and goes through the column type's
-- input function
--
\! python3 test/emuctl.py reset
CREATE FOREIGN TABLE typed (
  question   text,
  order_id   bigint,
  product    varchar(40),
  quantity   integer,
  small_qty  smallint,
  unit_price numeric(10,2),
  discount   double precision,
  is_gift    boolean,
  order_date date,
  order_ts   timestamptz,
  note       text
) SERVER genie;
SET timezone = 'UTC';
SELECT order_id, product, quantity, small_qty, unit_price, discount, is_gift, order_date, order_ts, note
  FROM typed WHERE question = 'Show every column type' ORDER BY order_id;
-- int64 keeps full precision (9007199254740993 is 2^53 + 1)
SELECT order_id, order_id - 9007199254740992 AS above_2_53
  FROM typed WHERE question = 'Show every column type' AND order_id > 1000000;
-- timestamp without time zone, text for everything
CREATE FOREIGN TABLE typed_text (
  question text, order_id text, discount text, is_gift text, order_ts timestamp, note text
) SERVER genie;
SELECT order_id, discount, is_gift, order_ts, note
  FROM typed_text WHERE question = 'Show every column type' ORDER BY order_id::numeric;
CREATE FOREIGN TABLE typed_row (question text, r jsonb OPTIONS (genie 'row')) SERVER genie;
SELECT r FROM typed_row WHERE question = 'Show every column type' ORDER BY (r->>'order_id')::numeric LIMIT 2;

-- a value that does not fit its column names the column, row and value
CREATE FOREIGN TABLE misfit (question text, order_id int) SERVER genie;
SELECT * FROM misfit WHERE question = 'Show every column type';
ALTER FOREIGN TABLE misfit ADD COLUMN product int;
ALTER FOREIGN TABLE misfit ALTER COLUMN order_id TYPE bigint;
SELECT * FROM misfit WHERE question = 'Show every column type';
