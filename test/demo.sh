#!/usr/bin/env bash
# The README's demo: build and install genie_fdw, start a throw-away
# PostgreSQL cluster and the Genie emulator, ask the seed's question and
# print the answer table.
source "$(dirname "$0")/lib.sh"

genie_install_deps
genie_build_install
genie_start_emulator
genie_start_cluster

psql -X -q -v ON_ERROR_STOP=1 -v url="$GENIE_EMULATOR_URL" -v token="$GENIE_TOKEN" <<'SQL'
CREATE EXTENSION genie_fdw;
CREATE SERVER genie FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host :'url', space_id '01f0000000000000000000000000000a');
CREATE USER MAPPING FOR CURRENT_USER SERVER genie OPTIONS (token :'token');
CREATE FOREIGN TABLE sales_genie (
  question      text,
  "ProductName" text,
  "TotalValue"  numeric,
  generated_sql text OPTIONS (genie 'sql')
) SERVER genie;
SET genie_fdw.progress = on;
\echo
\echo 'Question: Which products generate the highest total sales value?'
\echo
CREATE TEMP TABLE answer AS
  SELECT * FROM sales_genie
   WHERE question = 'Which products generate the highest total sales value?';
\echo
SELECT "ProductName", "TotalValue" FROM answer;
\echo 'Generated SQL:'
SELECT DISTINCT generated_sql FROM answer \g (format=unaligned tuples_only)
SQL
