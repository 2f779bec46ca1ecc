// bench/bulk_memory.js: where a bulk call's server memory goes. Started by
// `bash bench/bulk --memory`, which installs the npm packages and starts the
// throwaway cluster.
//
// For one size (default a million jobs, the args of bench/bulk.js), each probe
// sends the args in one form (a text[] in text or binary format, a jsonb[], or
// one text of JSON lines), with a generic or a custom plan, runs one statement,
// and records the peak RssAnon growth of a fresh backend (sampled every
// millisecond; the largest of --runs runs). Probes that only parse the
// parameter separate PostgreSQL's own cost from what bulk_enqueue_json adds.
'use strict';

const fs = require('fs');
const { Client } = require('pg');

function parseArgs(argv) {
	const opts = { dsn: process.env.DATABASE_URL || '', jobs: 1000000, runs: 2 };
	for (let i = 2; i < argv.length; i++) {
		const a = argv[i];
		const next = () => argv[++i];
		if (a === '--dsn') opts.dsn = next();
		else if (a === '--jobs') opts.jobs = Number(next());
		else if (a === '--runs') opts.runs = Number(next());
		else throw new Error(`unknown option ${a}`);
	}
	if (!opts.dsn) throw new Error('--dsn (or DATABASE_URL) is required');
	return opts;
}

function rssAnon(pid) {
	const m = /RssAnon:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
	return m ? Number(m[1]) * 1024 : NaN;
}

// text[] in binary format (array_send's layout, element type text)
function textArrayBinary(texts) {
	const bufs = texts.map((t) => Buffer.from(t));
	const out = Buffer.allocUnsafe(20 + bufs.reduce((sum, b) => sum + 4 + b.length, 0));
	let at = out.writeInt32BE(1, 0);
	at = out.writeInt32BE(0, at);
	at = out.writeUInt32BE(25, at);
	at = out.writeInt32BE(texts.length, at);
	at = out.writeInt32BE(1, at);
	for (const b of bufs) {
		at = out.writeInt32BE(b.length, at);
		at += b.copy(out, at);
	}
	return out;
}

async function main() {
	const opts = parseArgs(process.argv);
	const texts = [];
	for (let i = 0; i < opts.jobs; i++) texts.push(JSON.stringify({ user_id: i, template: 'welcome' }));
	const forms = {
		'text[], text format': '{' + texts.map((t) => '"' + t.replace(/[\\"]/g, '\\$&') + '"').join(',') + '}',
		'text[], binary format': textArrayBinary(texts),
		'one text of JSON lines': texts.join('\n'),
	};
	forms['jsonb[], text format'] = forms['text[], text format'];
	const json = "goodjob.bulk_enqueue_json('{SendEmail}', $1::text[])";
	const oneArray = `SELECT array_agg(id ORDER BY n) FROM ${json} WITH ORDINALITY AS t(id, n)`;
	const probes = [
		['one text of JSON lines', 'generic', 'SELECT length($1::text)'],
		['one text of JSON lines', 'custom', 'SELECT length($1::text)'],
		['text[], binary format', 'generic', 'SELECT cardinality($1::text[])'],
		['text[], binary format', 'custom', 'SELECT cardinality($1::text[])'],
		['text[], text format', 'generic', 'SELECT cardinality($1::text[])'],
		['text[], text format', 'custom', 'SELECT cardinality($1::text[])'],
		['jsonb[], text format', 'custom', 'SELECT cardinality($1::jsonb[])'],
		['text[], binary format', 'generic', `SELECT count(*) FROM ${json}`],
		['text[], text format', 'custom', `SELECT count(*) FROM ${json}`],
		['text[], binary format', 'generic', oneArray],
		['text[], text format', 'custom', oneArray],
	];

	const admin = new Client({ connectionString: opts.dsn });
	await admin.connect();
	const version = (await admin.query('SHOW server_version')).rows[0].server_version;
	const stored = Number((await admin.query('SELECT pg_column_size($1::text[]) AS b',
		[forms['text[], text format']])).rows[0].b);
	const mb = (b) => (b / 1048576).toFixed(1);
	console.log(`\nbulk call memory, PostgreSQL ${version}, ${opts.jobs} jobs, largest of ${opts.runs} runs, ` +
		`fresh backend each; the args as a text[] take ${mb(stored)} MB as stored\n`);
	console.log('| args sent as | plan | statement | MB sent | peak RssAnon growth, MB | x sent | x text[] as stored |');
	console.log('|---|---|---|---:|---:|---:|---:|');
	for (const [form, plan, sql] of probes) {
		const value = forms[form];
		let worst = 0;
		for (let run = 0; run < opts.runs; run++) {
			const client = new Client({ connectionString: opts.dsn });
			await client.connect();
			const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
			// load the library and the catalog entries before the baseline
			await client.query('BEGIN');
			await client.query("SELECT count(*) FROM goodjob.bulk_enqueue_json('{Warm}', '{\"{}\"}')");
			await client.query('ROLLBACK');
			const base = rssAnon(pid);
			let peak = base;
			const sampler = setInterval(() => { peak = Math.max(peak, rssAnon(pid)); }, 1);
			await client.query('BEGIN');
			if (plan === 'generic') await client.query('SET LOCAL plan_cache_mode = force_generic_plan');
			await client.query({ text: sql, values: [value], rowMode: 'array' });
			await client.query('ROLLBACK');
			clearInterval(sampler);
			peak = Math.max(peak, rssAnon(pid));
			worst = Math.max(worst, peak - base);
			await client.end();
		}
		const sent = Buffer.isBuffer(value) ? value.length : Buffer.byteLength(value);
		console.log(`| ${form} | ${plan} | \`${sql.replace(/\s+/g, ' ')}\` | ${mb(sent)} | ${mb(worst)} | ` +
			`${(worst / sent).toFixed(2)}x | ${(worst / stored).toFixed(2)}x |`);
	}
	await admin.end();
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
