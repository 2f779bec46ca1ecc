// bench/compare_pgq.js: PgQ (Debian postgresql-15-pgq3) on the bench/compare
// server: bulk insert of events, no-op consumer throughput, and latency from
// the insert's COMMIT to the consumer seeing the event. Writes its figures to
// --json for bench/compare_report.js.
//
// PgQ has no worker runtime. Its consumer is a loop of plain SQL, and that is
// what runs here: pgq.next_batch, pgq.get_batch_events, then the handlers,
// then pgq.finish_batch, in one transaction per batch. A batch holds the
// events between two ticks, so PgQ also needs a ticker: pgq.ticker(queue) in
// a loop (what the pgqd daemon does).
//
// This file is also the consumer process: `node compare_pgq.js --child ...`.
'use strict';

const fs = require('fs');
const { spawn } = require('child_process');
const readline = require('readline');
const { performance } = require('perf_hooks');

const { sleep, median, percentile } = require('./stats');
const wallMs = () => performance.timeOrigin + performance.now();

function parseArgs(argv) {
	const opts = {
		dsn: '', json: '', runs: 3, sizes: [], jobs: 0, chunk: 1000, concurrency: [4, 16],
		latencyJobs: 0, latencyGapMs: 20, pollMs: 10, tickMs: 10,
		child: false, queue: '', consumer: '', expect: 0, latency: false, workers: 1,
	};
	for (let i = 2; i < argv.length; i++) {
		const a = argv[i];
		const next = () => argv[++i];
		if (a === '--dsn') opts.dsn = next();
		else if (a === '--json') opts.json = next();
		else if (a === '--runs') opts.runs = Number(next());
		else if (a === '--sizes') opts.sizes = next().split(',').filter(Boolean).map(Number);
		else if (a === '--jobs') opts.jobs = Number(next());
		else if (a === '--chunk') opts.chunk = Number(next());
		else if (a === '--concurrency') opts.concurrency = next().split(',').map(Number);
		else if (a === '--latency-jobs') opts.latencyJobs = Number(next());
		else if (a === '--latency-gap-ms') opts.latencyGapMs = Number(next());
		else if (a === '--poll-ms') opts.pollMs = Number(next());
		else if (a === '--tick-ms') opts.tickMs = Number(next());
		else if (a === '--child') opts.child = true;
		else if (a === '--queue') opts.queue = next();
		else if (a === '--consumer') opts.consumer = next();
		else if (a === '--expect') opts.expect = Number(next());
		else if (a === '--latency') opts.latency = true;
		else if (a === '--workers') opts.workers = Number(next());
		else throw new Error(`unknown option ${a}`);
	}
	if (!opts.dsn) throw new Error('--dsn is required');
	return opts;
}

// ------------------------------------------------------------ consumer

// The consumer process. Prints "ready", then "first <wall ms>" when the
// first events arrive, "done <wall ms>" once --expect events are finished
// (their batch committed), and with --latency "L <i> <monotonic ns>" as each
// event's handler starts. With --tick-ms it also runs the ticker.
async function consumer(opts) {
	const { Client } = require('pg');
	const out = (s) => process.stdout.write(s + '\n');
	const db = new Client({ connectionString: opts.dsn });
	await db.connect();
	let stopping = false;
	process.on('SIGTERM', () => { stopping = true; });

	let ticker = null;
	if (opts.tickMs > 0) {
		const tdb = new Client({ connectionString: opts.dsn });
		await tdb.connect();
		ticker = (async () => {
			while (!stopping) {
				await tdb.query('SELECT pgq.ticker($1)', [opts.queue]);
				await sleep(opts.tickMs);
			}
			await tdb.end();
		})();
	}

	// the no-op handler, run by --workers concurrent slots over a batch
	const handle = async (events) => {
		let k = 0;
		const slot = async () => {
			while (k < events.length) {
				const ev = events[k++];
				if (opts.latency) out(`L ${JSON.parse(ev.ev_data).i} ${process.hrtime.bigint()}`);
				await null;
			}
		};
		await Promise.all(Array.from({ length: opts.workers }, slot));
	};

	out('ready');
	let seen = 0;
	let first = false;
	while (!stopping) {
		await db.query('BEGIN');
		const batch = (await db.query('SELECT pgq.next_batch($1, $2) AS id', [opts.queue, opts.consumer])).rows[0].id;
		if (batch === null) {
			await db.query('COMMIT');
			await sleep(opts.pollMs);
			continue;
		}
		const events = (await db.query('SELECT ev_id, ev_type, ev_data FROM pgq.get_batch_events($1)', [batch])).rows;
		if (events.length && !first) {
			first = true;
			out(`first ${wallMs()}`);
		}
		await handle(events);
		await db.query('SELECT pgq.finish_batch($1)', [batch]);
		await db.query('COMMIT');
		seen += events.length;
		if (opts.expect && seen >= opts.expect) out(`done ${wallMs()} ${seen}`);
	}
	if (ticker) await ticker;
	await db.end();
}

class ConsumerProcess {
	constructor(args) {
		this.first = null;
		this.done = null;
		this.ready = false;
		this.exited = false;
		this.starts = new Map();
		this.spawnedAt = wallMs();
		this.proc = spawn(process.execPath, [__filename, '--child', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
		this.exit = new Promise((resolve) => this.proc.on('exit', () => { this.exited = true; resolve(); }));
		readline.createInterface({ input: this.proc.stdout }).on('line', (line) => {
			const f = line.split(' ');
			if (f[0] === 'L') this.starts.set(Number(f[1]), BigInt(f[2]));
			else if (f[0] === 'first') this.first = Number(f[1]);
			else if (f[0] === 'done') this.done = Number(f[1]);
			else if (f[0] === 'ready') this.ready = true;
		});
	}

	async waitFor(what, timeoutMs) {
		const until = Date.now() + timeoutMs;
		while (!this[what]) {
			if (this.exited) throw new Error('the PgQ consumer exited early');
			if (Date.now() > until) throw new Error(`the PgQ consumer: no "${what}" within ${timeoutMs} ms`);
			await sleep(5);
		}
	}

	async stop() {
		if (this.exited) return;
		this.proc.kill('SIGTERM');
		const t = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
		await this.exit;
		clearTimeout(t);
	}
}

// ------------------------------------------------------------ the driver

async function main() {
	const opts = parseArgs(process.argv);
	if (opts.child) return consumer(opts);

	const { Client } = require('pg');
	const { from: copyFrom } = require('pg-copy-streams');
	const db = new Client({ connectionString: opts.dsn });
	await db.connect();
	const q = async (sql, params) => (await db.query(sql, params)).rows;
	await q('SET client_min_messages = warning');
	await q('CREATE EXTENSION IF NOT EXISTS pgq');
	const version = (await q('SELECT pgq.version() AS v'))[0].v;
	const report = { version, runs: opts.runs, bulk: [], throughput: [], latency: [] };

	// A fresh queue: PgQ's own reset (its event tables are dropped with it).
	const freshQueue = async (name, config) => {
		await q('SELECT pgq.drop_queue(queue_name, true) FROM pgq.queue WHERE queue_name = $1', [name]);
		await q('SELECT pgq.create_queue($1)', [name]);
		for (const [k, v] of Object.entries(config || {})) await q('SELECT pgq.set_queue_config($1, $2, $3)', [name, k, v]);
		await q('VACUUM');
		await q('CHECKPOINT');
	};

	// ---- bulk: the same job arguments as bench/bulk.js, as ev_data text
	const maxSize = Math.max(0, ...opts.sizes);
	const data = Array.from({ length: maxSize }, (_, i) => JSON.stringify({ user_id: i, template: 'welcome' }));
	const textArray = (xs) => '{' + xs.map((s) => '"' + s.replace(/[\\"]/g, '\\$&') + '"').join(',') + '}';
	const copyChunks = (xs) => {
		const chunks = [];
		for (let i = 0; i < xs.length; i += 10000) {
			chunks.push(Buffer.from(xs.slice(i, i + 10000).map((s) => 'now\tSendEmail\t' + s.replace(/\\/g, '\\\\') + '\n').join('')));
		}
		return chunks;
	};
	for (const n of opts.sizes) {
		const literal = textArray(data.slice(0, n));
		const chunks = copyChunks(data.slice(0, n));
		const methods = [
			['PgQ pgq.insert_event per event, one transaction', async () => {
				await q('BEGIN');
				await q("SELECT count(pgq.insert_event('bulk', 'SendEmail', d)) FROM unnest($1::text[]) AS d", [literal]);
				await q('COMMIT');
			}],
			['PgQ COPY into pgq.current_event_table()', async () => {
				await q('BEGIN');
				const table = (await q("SELECT pgq.current_event_table('bulk') AS t"))[0].t;
				await new Promise((resolve, reject) => {
					const stream = db.query(copyFrom(`COPY ${table} (ev_time, ev_type, ev_data) FROM STDIN`));
					stream.on('error', reject);
					stream.on('finish', resolve);
					for (const c of chunks) stream.write(c);
					stream.end();
				});
				await q('COMMIT');
			}],
		];
		const times = new Map(methods.map(([name]) => [name, []]));
		for (let run = 0; run < opts.runs; run++) {
			for (const [name, fn] of methods) {
				await freshQueue('bulk');
				const t0 = process.hrtime.bigint();
				await fn();
				times.get(name).push(Number(process.hrtime.bigint() - t0) / 1e9);
				const events = (await q("SELECT queue_data_pfx AS t FROM pgq.queue WHERE queue_name = 'bulk'"))[0].t;
				const got = Number((await q(`SELECT count(*) AS n FROM ${events}`))[0].n);
				if (got !== n) throw new Error(`${name}: ${got} of ${n} events in the queue`);
			}
		}
		for (const [name, ts] of times) {
			const s = median(ts);
			report.bulk.push({ n, name, seconds: s, rate: n / s, times: ts });
			console.error(`PgQ bulk ${n}: ${name}: ${s.toFixed(3)} s`);
		}
	}
	if (opts.sizes.length) await q("SELECT pgq.drop_queue('bulk', true)");

	// ---- throughput: --jobs events inserted first, a tick after every
	// --chunk of them (so batches of --chunk events), then the consumer runs
	const throughputRun = async (c) => {
		const n = opts.jobs;
		await freshQueue('bench', { ticker_max_lag: '0' });
		await q("SELECT pgq.register_consumer('bench', 'bench')");
		for (let i = 0; i < n; i += opts.chunk) {
			await q("SELECT count(pgq.insert_event('bench', 'Noop', json_build_object('i', i)::text)) " +
				'FROM generate_series($1::int, $2::int) AS i', [i + 1, Math.min(n, i + opts.chunk)]);
			await q("SELECT pgq.ticker('bench')");
		}
		await q('CHECKPOINT');
		const w = new ConsumerProcess(['--dsn', opts.dsn, '--queue', 'bench', '--consumer', 'bench',
			'--expect', String(n), '--workers', String(c), '--poll-ms', String(opts.pollMs), '--tick-ms', '0']);
		try {
			await w.waitFor('done', 300000);
		} finally {
			await w.stop();
		}
		const left = (await q("SELECT pending_events FROM pgq.get_consumer_info('bench', 'bench')"))[0].pending_events;
		if (Number(left) !== 0) throw new Error(`PgQ consumer: ${left} events left`);
		return { rate: n / ((w.done - w.first) / 1000), drain: (w.done - w.first) / 1000, total: (w.done - w.spawnedAt) / 1000 };
	};
	if (opts.jobs) {
		for (const c of opts.concurrency) {
			report.throughput.push({
				system: 'pgq', c, label: `PgQ ${version} SQL consumer loop`,
				settings: `1 consumer, batches of ${opts.chunk} events (a tick per ${opts.chunk} inserted), ` +
					`each batch's events handed to ${c} no-op handlers`,
				runs: [],
			});
		}
		for (let run = 0; run < opts.runs; run++) {
			for (const row of report.throughput) {
				const r = await throughputRun(row.c);
				row.runs.push(r);
				console.error(`PgQ run ${run + 1}, ${row.c} handlers: ${Math.round(r.rate)} events/s`);
			}
		}
	}

	// ---- latency: an idle consumer polling next_batch every --poll-ms, the
	// ticker in its process every --tick-ms, single inserts --latency-gap-ms apart
	if (opts.latencyJobs) {
		await freshQueue('lat', { ticker_max_lag: '0' });
		await q("SELECT pgq.register_consumer('lat', 'lat')");
		const w = new ConsumerProcess(['--dsn', opts.dsn, '--queue', 'lat', '--consumer', 'lat', '--latency',
			'--workers', '4', '--poll-ms', String(opts.pollMs), '--tick-ms', String(opts.tickMs)]);
		const lat = new Client({ connectionString: opts.dsn });
		await lat.connect();
		const sent = [];
		try {
			await w.waitFor('ready', 30000);
			await sleep(1000);
			const warmup = 10;
			for (let i = -warmup; i < opts.latencyJobs; i++) {
				const t0 = process.hrtime.bigint();
				await lat.query("SELECT pgq.insert_event('lat', 'Latency', json_build_object('i', $1::int)::text)", [i]);
				const t1 = process.hrtime.bigint();
				if (i >= 0) sent.push({ i, sent: t0, committed: t1 });
				await sleep(opts.latencyGapMs);
			}
			const until = Date.now() + 10000;
			while (sent.some((s) => !w.starts.has(s.i)) && Date.now() < until) await sleep(20);
		} finally {
			await w.stop();
			await lat.end();
		}
		const missing = sent.filter((s) => !w.starts.has(s.i)).length;
		if (missing) throw new Error(`PgQ latency: ${missing} events never reached the consumer`);
		const ms = sent.map((s) => Number(w.starts.get(s.i) - s.committed) / 1e6);
		const rtt = sent.map((s) => Number(s.committed - s.sent) / 1e6);
		report.latency.push({
			label: `PgQ ${version} SQL consumer loop, next_batch every ${opts.pollMs} ms, pgq.ticker() every ${opts.tickMs} ms`,
			what: 'COMMIT returned → handler start', n: ms.length,
			median: median(ms), p99: percentile(ms, 99), max: Math.max(...ms), rtt: median(rtt),
		});
		await q("SELECT pgq.drop_queue('lat', true)");
	}
	if (opts.jobs) await q("SELECT pgq.drop_queue('bench', true)");

	if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(report, null, 1) + '\n');
	await db.end();
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
