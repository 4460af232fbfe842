// node-postgres (pg) against the server: node node_pg_matrix.js PORT
// (NODE_PATH must point at a node_modules with pg). Prints one JSON object: for each
// operation {"ok": short result} or {"error": message, "sqlstate": code}.
const { Client } = require('pg');

const port = Number(process.argv[2]);
const out = {};

async function run(name, fn, extra = {}) {
  const client = new Client({ host: '127.0.0.1', port, user: 'prefdb', database: 'prefdb',
    connectionTimeoutMillis: 10000, query_timeout: 50000, ...extra });
  try {
    await client.connect();
    out[name] = { ok: await fn(client) };
  } catch (e) {
    out[name] = { error: String(e.message), sqlstate: e.code || null };
  } finally {
    await client.end().catch(() => {});
  }
}

const rows = (r) => r.rows.slice(0, 3).map((row) => Object.values(row).map(String));
const TYPED = 'SELECT model_a, turn_len_a, ts, 1.5::float8 AS x, true AS b FROM votes ORDER BY ts LIMIT 2';

(async () => {
  await run('select', async (c) => rows(await c.query('SELECT count(*) FROM votes')));
  await run('param', async (c) => rows(await c.query('SELECT count(*) FROM votes WHERE category = $1', ['coding'])));
  await run('types', async (c) => rows(await c.query(TYPED)));
  await run('binary', async (c) => rows(await c.query(TYPED)), { binary: true });
  await run('named_statement', async (c) => {
    const q = { name: 'by_cat', text: 'SELECT count(*) FROM votes WHERE category = $1', values: ['coding'] };
    await c.query(q);
    return rows(await c.query(q));
  });
  await run('param_timestamptz', async (c) =>
    rows(await c.query('SELECT count(*) FROM votes WHERE ts >= $1', [new Date('2024-01-15T00:00:00Z')])));
  await run('null_column', async (c) => (await c.query('SELECT NULL AS n')).fields.map((f) => f.dataTypeID));
  await run('bt_rank_raw', async (c) => {
    const r = await c.query({ text: 'SELECT bt_rank(model_a, model_b, winner) FROM votes', rowMode: 'array' });
    return [r.fields[0].name, r.fields[0].dataTypeID, String(r.rows[0][0]).slice(0, 60)];
  });
  await run('leaderboard', async (c) => rows(await c.query(
    "SELECT rank, item, rating FROM leaderboard('SELECT bt_rank(model_a, model_b, winner) FROM votes') ORDER BY rank")));
  console.log(JSON.stringify(out));
})();
