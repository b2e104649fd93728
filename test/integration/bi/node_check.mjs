// genie_fdw through node-postgres (npm pg), as a Node.js BI client uses it.
//
// Run by test/integration/bi_drivers.sh after `npm install` in this folder.
// Connects with the libpq-style environment (PGHOST, PGPORT, PGUSER,
// PGDATABASE) and reads the emulator's stats from $GENIE_EMULATOR_URL.
// Expects the foreign tables the shell script creates: q (question,
// "ProductName", "TotalValue"), typed (every column type) and gen
// ("Generate N rows").
//
// node-postgres sends a query with `values` over the extended protocol
// (Parse/Bind/Describe/Execute) with the values as $1...; a query with a
// `name` is parsed once per connection and then only bound and executed.
//
// Prints one line per check ("ok - ..." / "not ok - ...") and exits 1 if any
// failed.
import pg from 'pg';
import { createRequire } from 'node:module';
import { isDeepStrictEqual, inspect } from 'node:util';

const SEED = 'Which products generate the highest total sales value?';
const TYPED_Q = 'Show every column type';
const EMU = process.env.GENIE_EMULATOR_URL.replace(/\/$/, '');

let failures = 0;

function check(name, cond, detail) {
  if (cond) {
    console.log(`ok - ${name}`);
  } else {
    failures++;
    console.log(`not ok - ${name}`);
    if (detail !== undefined) {
      for (const line of String(detail).split('\n')) console.log(`#   ${line}`);
    }
  }
}

function checkEq(name, actual, expected) {
  check(name, isDeepStrictEqual(actual, expected),
    `expected: ${inspect(expected, { depth: 5 })}\nactual:   ${inspect(actual, { depth: 5 })}`);
}

async function asked() {
  const r = await fetch(`${EMU}/__emulator/stats`);
  const stats = await r.json();
  return stats.requests.start_conversation ?? 0;
}

async function section(name, fn) {
  try {
    await fn();
  } catch (e) {
    check(`${name}: no error`, false, e && e.stack ? e.stack.split('\n').slice(0, 3).join('\n') : e);
  }
}

const client = new pg.Client({ application_name: 'bi_node_pg' });

async function metadata() {
  const before = await asked();
  let r = await client.query(
    `SELECT table_schema, table_name, table_type FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'FOREIGN' ORDER BY table_name`);
  checkEq('information_schema.tables lists the foreign tables as FOREIGN',
    r.rows.map((x) => `${x.table_schema}.${x.table_name} ${x.table_type}`),
    ['public.gen FOREIGN', 'public.q FOREIGN', 'public.typed FOREIGN']);

  r = await client.query({
    text: `SELECT column_name, data_type FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
    values: ['typed'],
  });
  checkEq('information_schema.columns lists typed\'s columns and types',
    r.rows.map((x) => `${x.column_name} ${x.data_type}`),
    ['question text', 'order_id bigint', 'product text', 'quantity integer', 'small_qty smallint',
      'unit_price numeric', 'discount double precision', 'is_gift boolean', 'order_date date',
      'order_ts timestamp with time zone', 'note text']);

  r = await client.query(
    `SELECT c.relname, s.srvname FROM pg_catalog.pg_foreign_table ft
       JOIN pg_catalog.pg_class c ON c.oid = ft.ftrelid
       JOIN pg_catalog.pg_foreign_server s ON s.oid = ft.ftserver
      ORDER BY 1`);
  checkEq('pg_catalog.pg_foreign_table lists the foreign tables and their server',
    r.rows.map((x) => `${x.relname}@${x.srvname}`), ['gen@genie', 'q@genie', 'typed@genie']);

  r = await client.query('SELECT * FROM q LIMIT 0');
  checkEq('SELECT * FROM q LIMIT 0: no rows', r.rows, []);
  checkEq('SELECT * FROM q LIMIT 0: fields', r.fields.map((f) => [f.name, f.dataTypeID]),
    [['question', 25], ['ProductName', 25], ['TotalValue', 1700]]);

  r = await client.query('SELECT * FROM typed LIMIT 0');
  checkEq('SELECT * FROM typed LIMIT 0: fields', r.fields.map((f) => [f.name, f.dataTypeID]),
    [['question', 25], ['order_id', 20], ['product', 25], ['quantity', 23], ['small_qty', 21],
      ['unit_price', 1700], ['discount', 701], ['is_gift', 16], ['order_date', 1082],
      ['order_ts', 1184], ['note', 25]]);

  r = await client.query({ text: 'SELECT * FROM q WHERE question = $1 LIMIT 0', values: [SEED] });
  checkEq('SELECT * FROM q WHERE question = $1 LIMIT 0: no rows, 3 fields', [r.rows.length, r.fields.length], [0, 3]);
  checkEq('metadata queries and LIMIT 0 probes asked Genie nothing', (await asked()) - before, 0);
}

async function parameterized() {
  const before = await asked();
  const r = await client.query({
    text: 'SELECT "ProductName", "TotalValue" FROM q WHERE question = $1',
    values: [SEED],
  });
  checkEq('$1 parameter: 5 rows', r.rowCount, 5);
  checkEq('$1 parameter: top row (numeric comes back as a string)', r.rows[0],
    { ProductName: 'Quinoa & Kale Bowl', TotalValue: '2271.50' });
  checkEq('$1 parameter: all TotalValues', r.rows.map((x) => x.TotalValue),
    ['2271.50', '2197.25', '2145.00', '2040.00', '1950.00']);
  checkEq('$1 parameter: Genie asked once', (await asked()) - before, 1);
}

async function typed() {
  const before = await asked();
  const r = await client.query({
    text: `SELECT order_id, product, quantity, small_qty, unit_price, discount, is_gift,
                  order_date, order_ts, note FROM typed WHERE question = $1 ORDER BY order_id`,
    values: [TYPED_Q],
  });
  checkEq('typed: Genie asked once', (await asked()) - before, 1);
  checkEq('typed: 4 rows', r.rowCount, 4);
  if (r.rowCount !== 4) return;
  const [a, b, c, d] = r.rows;
  checkEq('typed: bigint above 2^53 comes back as an exact string', d.order_id, '9007199254740993');
  checkEq('typed: order_ids', r.rows.map((x) => x.order_id), ['100001', '100002', '100003', '9007199254740993']);
  checkEq('typed: int and smallint are numbers', [d.quantity, d.small_qty], [9, 9]);
  checkEq('typed: numeric(10,2) is the string \'8.00\'', d.unit_price, '8.00');
  checkEq('typed: float8 is a number, NULL is null', r.rows.map((x) => x.discount), [0.1, null, 1 / 3, 0.05]);
  checkEq('typed: bool', r.rows.map((x) => x.is_gift), [true, false, false, true]);
  check('typed: timestamptz is a Date', d.order_ts instanceof Date, inspect(d.order_ts));
  checkEq('typed: timestamptz values (ms kept)', r.rows.map((x) => x.order_ts instanceof Date && x.order_ts.toISOString()),
    ['2024-03-01T10:15:00.000Z', '2024-03-02T18:30:45.000Z', '2024-03-03T07:05:09.123Z', '2024-12-31T23:59:59.999Z']);
  // node-postgres turns a date into a Date at local midnight
  check('typed: date is a Date', d.order_date instanceof Date, inspect(d.order_date));
  checkEq('typed: date value', d.order_date instanceof Date
    ? [d.order_date.getFullYear(), d.order_date.getMonth() + 1, d.order_date.getDate()] : d.order_date, [2024, 12, 31]);
  checkEq('typed: NULL text is null', b.note, null);
  checkEq('typed: text with quotes, backslashes and UTF-8', c.note, 'Extra "spicy" café ☕ C:\\orders\\note');
  checkEq('typed: product', a.product, 'Quinoa & Kale Bowl');
  checkEq('typed: result column type OIDs', r.fields.map((f) => f.dataTypeID),
    [20, 25, 23, 21, 1700, 701, 16, 1082, 1184, 25]);
}

// A named statement, parsed once, bound and executed once per question.
async function named(name, mode, ns) {
  await client.query(`SET plan_cache_mode = ${mode}`);
  const text = "SELECT count(*)::int AS n, max(id) AS max_id, sum(qty)::int AS qty, bool_and(name = 'item-' || id) AS names"
    + ` FROM gen WHERE question = $1 /* ${name} */`;
  const before = await asked();
  const got = [];
  for (const n of ns) {
    const r = await client.query({ name, text, values: [`Generate ${n} rows`] });
    got.push(r.rows[0]);
  }
  const calls = (await asked()) - before;
  const ps = await client.query({
    text: `SELECT name, statement, parameter_types::text[] AS ptypes, from_sql, generic_plans, custom_plans
             FROM pg_prepared_statements WHERE name = $1`,
    values: [name],
  });
  await client.query('RESET plan_cache_mode');
  checkEq(`named statement '${name}' (${mode}): each execution answers its own question`, got,
    ns.map((n) => ({ n, max_id: String(n), qty: (n * (n + 1)) / 2, names: true })));
  checkEq(`named statement '${name}' (${mode}): Genie asked once per execution`, calls, ns.length);
  checkEq(`named statement '${name}' (${mode}): prepared on the server`, ps.rowCount, 1);
  if (ps.rowCount !== 1) return;
  const s = ps.rows[0];
  check(`named statement '${name}' (${mode}): prepared over the protocol with $1`,
    !s.from_sql && s.statement.includes('question = $1') && isDeepStrictEqual(s.ptypes, ['text']), inspect(s));
  const generic = Number(s.generic_plans);
  const custom = Number(s.custom_plans);
  console.log(`# named statement '${name}' (${mode}): generic_plans=${generic} custom_plans=${custom}`);
  if (mode === 'force_generic_plan') {
    check(`named statement '${name}' (${mode}): ${ns.length} executions with the generic plan`,
      generic >= ns.length && custom === 0, `generic_plans=${generic} custom_plans=${custom}`);
  } else {
    check(`named statement '${name}' (${mode}): reused for ${ns.length} executions`,
      generic + custom >= ns.length, `generic_plans=${generic} custom_plans=${custom}`);
  }
}

async function seedGeneric() {
  await client.query('SET plan_cache_mode = force_generic_plan');
  const before = await asked();
  const tops = [];
  for (let i = 0; i < 6; i++) {
    const r = await client.query({
      name: 'ask_seed',
      text: 'SELECT "ProductName", "TotalValue" FROM q WHERE question = $1 ORDER BY "TotalValue" DESC',
      values: [SEED],
    });
    tops.push([r.rowCount, r.rows[0]]);
  }
  await client.query('RESET plan_cache_mode');
  checkEq('generic plan, seed question x6: 5 rows and the top row each time', tops,
    Array(6).fill([5, { ProductName: 'Quinoa & Kale Bowl', TotalValue: '2271.50' }]));
  checkEq('generic plan, seed question x6: Genie asked 6 times', (await asked()) - before, 6);
}

async function main() {
  const require = createRequire(import.meta.url);
  await client.connect();
  const v = await client.query('SHOW server_version');
  console.log(`# node ${process.version}, pg ${require('pg/package.json').version}, server ${v.rows[0].server_version}`);
  await section('metadata', metadata);
  await section('parameterized', parameterized);
  await section('typed', typed);
  await section('named auto', () => named('ask', 'auto', [2, 5, 1, 6, 3, 7, 4]));
  await section('named generic', () => named('ask_generic', 'force_generic_plan', [3, 1, 7, 2, 5, 4, 6]));
  await section('seed generic', seedGeneric);
  await section('still usable', async () => {
    checkEq('connection still usable', (await client.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
  });
  await client.end();
  console.log(`# node-postgres: ${failures} failed`);
  process.exitCode = failures ? 1 : 0;
}

main().catch((e) => {
  console.log(`not ok - node-postgres run: ${e && e.message}`);
  process.exitCode = 1;
  client.end().catch(() => {});
});
