// bench/worker.js: worker throughput and latency of goodjob next to
// graphile-worker and pg-boss, all on one server in one run. Started by
// bench/worker, which installs the npm packages, builds goodjob and the
// latency helper (bench/latency_worker.c) and starts the throwaway cluster.
//
// Throughput: N no-op jobs are enqueued first (each system's bulk path),
// then the worker process is started; the clock runs from the first job
// taken (goodjob: min(locked_at); the peers: their handler's first call) to
// the moment the driver sees no unfinished job left (polled every 10 ms), so
// process start-up, which differs a lot between a C binary and Node.js, is
// left out; it is shown separately. Median of --runs runs, the systems
// interleaved within each run. Every run starts from empty, vacuumed tables
// and a checkpoint.
//
// Latency: an idle worker listens; the driver enqueues --latency-jobs jobs
// one at a time (one autocommit statement each), --latency-gap-ms apart,
// and notes process.hrtime (CLOCK_MONOTONIC) right after the COMMIT
// returned. The worker notes the same clock when its handler starts.
//
// This file is also the peers' worker process: `node worker.js --child
// graphile|pgboss ...` (so that each worker runs in a process of its own, as
// goodjob's does).
'use strict';

const { spawn } = require('child_process');
const readline = require('readline');
const { performance } = require('perf_hooks');

const GRAPHILE_VERSION = '0.17.3';
const PGBOSS_VERSION = '10.4.2';

function parseArgs(argv) {
	const opts = {
		dsn: process.env.DATABASE_URL || '',
		jobs: 20000,
		runs: 3,
		concurrency: [4, 16],
		latencyJobs: 200,
		latencyGapMs: 20,
		goodjob: 'goodjob',
		latencyWorker: '',
		logDir: '',
		peers: true,
		systems: ['goodjob', 'graphile', 'pgboss'],
		throughput: true,
		latency: true,
		prefetch: [0],
		// the peers' settings measured: graphile-worker localQueue.size and
		// completeJobBatchDelay pairs, pg-boss batchSize values
		graphile: [[500, 0], [500, 100]],
		pgbossBatch: [1000],
		gwPollInterval: 2000,
		bossPoll: 0.5,
		// child mode
		gwLocalQueue: -1,
		gwCompleteDelay: -1,
		bossBatch: 100,
		// child mode
		child: '',
		mode: '',
		workers: 1,
		childConcurrency: 1,
	};
	for (let i = 2; i < argv.length; i++) {
		const a = argv[i];
		const next = () => argv[++i];
		if (a === '--dsn') opts.dsn = next();
		else if (a === '--jobs') opts.jobs = Number(next());
		else if (a === '--runs') opts.runs = Number(next());
		else if (a === '--concurrency') opts.concurrency = next().split(',').map(Number);
		else if (a === '--latency-jobs') opts.latencyJobs = Number(next());
		else if (a === '--latency-gap-ms') opts.latencyGapMs = Number(next());
		else if (a === '--goodjob') opts.goodjob = next();
		else if (a === '--latency-worker') opts.latencyWorker = next();
		else if (a === '--log-dir') opts.logDir = next();
		else if (a === '--no-peers') opts.systems = ['goodjob'];
		else if (a === '--systems') opts.systems = next().split(',');
		else if (a === '--no-throughput') opts.throughput = false;
		else if (a === '--no-latency') opts.latency = false;
		else if (a === '--prefetch') opts.prefetch = next().split(',').filter((s) => s !== '').map(Number);
		else if (a === '--graphile') opts.graphile = next().split(',').map((x) => x.split(':').map(Number));
		else if (a === '--pgboss-batch') opts.pgbossBatch = next().split(',').map(Number);
		else if (a === '--gw-local-queue') opts.gwLocalQueue = Number(next());
		else if (a === '--gw-complete-delay') opts.gwCompleteDelay = Number(next());
		else if (a === '--gw-poll-interval') opts.gwPollInterval = Number(next());
		else if (a === '--boss-batch') opts.bossBatch = Number(next());
		else if (a === '--boss-poll') opts.bossPoll = Number(next());
		else if (a === '--child') opts.child = next();
		else if (a === '--mode') opts.mode = next();
		else if (a === '--workers') opts.workers = Number(next());
		else if (a === '--child-concurrency') opts.childConcurrency = Number(next());
		else if (a === '--json') opts.json = next(); // also write the figures to this file (bench/compare)
		else throw new Error(`unknown option ${a}`);
	}
	if (!opts.dsn) throw new Error('--dsn (or DATABASE_URL) is required');
	opts.peers = opts.systems.some((x) => x !== 'goodjob');
	return opts;
}

const { sleep, median, percentile } = require('./stats');
// wall-clock milliseconds with sub-millisecond resolution
const wallMs = () => performance.timeOrigin + performance.now();

// ------------------------------------------------------------ child mode

// A peer's worker process. Prints "ready" once it works, "first <wall ms>"
// at its first throughput job, "L <i> <monotonic ns>" per latency job.
async function child(opts) {
	const out = (s) => process.stdout.write(s + '\n');
	let first = false;
	const onBench = () => {
		if (!first) {
			first = true;
			out(`first ${wallMs()}`);
		}
	};
	const onLatency = (i) => out(`L ${i} ${process.hrtime.bigint()}`);
	let stop;

	if (opts.child === 'graphile') {
		const { run, Logger } = require('graphile-worker');
		const logger = new Logger(() => (level, message) => {
			if (level === 'error') console.error('graphile-worker:', message);
		});
		const runner = await run({
			connectionString: opts.dsn,
			concurrency: opts.childConcurrency,
			maxPoolSize: Math.max(10, opts.childConcurrency + 2),
			noHandleSignals: true,
			pollInterval: opts.gwPollInterval,
			logger,
			taskList: {
				bench: async () => { onBench(); },
				latency: async (payload) => { onLatency(payload.i); },
			},
			preset: {
				worker: {
					localQueue: { size: opts.gwLocalQueue },
					completeJobBatchDelay: opts.gwCompleteDelay,
				},
			},
		});
		stop = () => runner.stop();
	} else if (opts.child === 'pgboss') {
		const PgBoss = require('pg-boss');
		const boss = new PgBoss({
			connectionString: opts.dsn,
			max: opts.workers + 2,
			supervise: false,
			schedule: false,
			migrate: false,
		});
		boss.on('error', (e) => console.error('pg-boss:', e.message));
		await boss.start();
		for (let i = 0; i < opts.workers; i++) {
			if (opts.mode === 'latency') {
				await boss.work('latency', { batchSize: opts.bossBatch, pollingIntervalSeconds: opts.bossPoll },
					async (jobs) => { for (const j of jobs) onLatency(j.data.i); });
			} else {
				await boss.work('bench', { batchSize: opts.bossBatch, pollingIntervalSeconds: opts.bossPoll },
					async () => { onBench(); });
			}
		}
		stop = () => boss.stop({ graceful: true, wait: true, timeout: 5000 });
	} else {
		throw new Error(`unknown --child ${opts.child}`);
	}
	out('ready');
	const onSignal = () => {
		Promise.resolve(stop()).then(() => process.exit(0), (e) => {
			console.error(e);
			process.exit(1);
		});
	};
	process.on('SIGTERM', onSignal);
	process.on('SIGINT', onSignal);
}

// ------------------------------------------------------------ the driver

// A worker process of any kind; collects its "first" and "L" lines.
class WorkerProcess {
	constructor(cmd, args, logFile) {
		const fs = require('fs');
		this.first = null;
		this.starts = new Map();
		this.ready = false;
		this.exited = false;
		this.spawnedAt = wallMs();
		const err = logFile ? fs.openSync(logFile, 'a') : 'ignore';
		this.proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', err] });
		if (logFile) fs.closeSync(err);
		this.exit = new Promise((resolve) => this.proc.on('exit', (code, sig) => {
			this.exited = true;
			resolve(code === null ? sig : code);
		}));
		readline.createInterface({ input: this.proc.stdout }).on('line', (line) => {
			const f = line.split(' ');
			if (f[0] === 'L') this.starts.set(Number(f[1]), BigInt(f[2]));
			else if (f[0] === 'first') this.first = Number(f[1]);
			else if (f[0] === 'ready') this.ready = true;
		});
	}

	async waitReady(timeoutMs) {
		const until = Date.now() + timeoutMs;
		while (!this.ready) {
			if (this.exited || Date.now() > until) throw new Error(`worker ${this.proc.spawnargs.join(' ')} did not start`);
			await sleep(10);
		}
	}

	async stop() {
		if (this.exited) return;
		this.proc.kill('SIGTERM');
		const t = setTimeout(() => this.proc.kill('SIGKILL'), 15000);
		await this.exit;
		clearTimeout(t);
	}
}

async function main() {
	const opts = parseArgs(process.argv);
	if (opts.child) return child(opts);

	const { Client } = require('pg');
	const path = require('path');
	const logFile = (name) => (opts.logDir ? path.join(opts.logDir, name + '.log') : null);
	const admin = new Client({ connectionString: opts.dsn });
	await admin.connect();
	const version = (await admin.query('SHOW server_version')).rows[0].server_version;
	const q = async (sql, params) => (await admin.query(sql, params)).rows;

	// Peers' schemas and queues.
	let workerUtils = null;
	let boss = null;
	if (opts.peers) {
		const { makeWorkerUtils } = require('graphile-worker');
		workerUtils = await makeWorkerUtils({ connectionString: opts.dsn });
		await workerUtils.migrate();
		const PgBoss = require('pg-boss');
		boss = new PgBoss({ connectionString: opts.dsn, supervise: false, schedule: false });
		boss.on('error', (e) => console.error('pg-boss:', e.message));
		await boss.start();
		await boss.createQueue('bench');
		await boss.createQueue('latency');
	}

	const reset = async () => {
		await q('TRUNCATE goodjob.active_jobs, goodjob.finished_jobs');
		if (opts.peers) {
			await q('TRUNCATE graphile_worker._private_jobs CASCADE');
			await q("DELETE FROM pgboss.job WHERE name IN ('bench', 'latency')");
		}
		await q('VACUUM');
		await q('CHECKPOINT');
	};

	const me = __filename;
	const systems = {
		goodjob: {
			enqueue: (n) => q("SELECT count(*) FROM goodjob.bulk_enqueue('{Noop}', " +
				"(SELECT array_agg(jsonb_build_object('i', i)) FROM generate_series(1, $1::int) i), '{bench}')", [n]),
			analyze: 'VACUUM ANALYZE goodjob.active_jobs',
			remaining: async () => Number((await q(
				'SELECT count(*) AS n FROM (SELECT 1 FROM goodjob.active_jobs LIMIT 1) x'))[0].n),
			succeeded: async () => Number((await q(
				"SELECT count(*) AS n FROM goodjob.jobs WHERE queue_name = 'bench' AND state = 'succeeded'"))[0].n),
			first: async () => Number((await q(
				"SELECT extract(epoch FROM min(locked_at)) * 1000 AS t FROM goodjob.jobs WHERE queue_name = 'bench'"))[0].t),
		},
		graphile: {
			enqueue: (n) => q("SELECT count(*) FROM graphile_worker.add_jobs(" +
				"(SELECT array_agg(json_populate_record(null::graphile_worker.job_spec, " +
				"json_build_object('identifier', 'bench', 'payload', json_build_object('i', i)))) " +
				'FROM generate_series(1, $1::int) i))', [n]),
			analyze: 'VACUUM ANALYZE graphile_worker._private_jobs',
			remaining: async () => Number((await q(
				'SELECT count(*) AS n FROM (SELECT 1 FROM graphile_worker._private_jobs LIMIT 1) x'))[0].n),
			// completed jobs are deleted; failed ones stay with an error
			succeeded: async (n) => n - Number((await q(
				'SELECT count(*) AS n FROM graphile_worker._private_jobs'))[0].n),
		},
		pgboss: {
			enqueue: async (n) => {
				const jobs = [];
				for (let i = 1; i <= n; i++) jobs.push({ name: 'bench', data: { i } });
				for (let i = 0; i < n; i += 10000) await boss.insert(jobs.slice(i, i + 10000));
			},
			analyze: 'VACUUM ANALYZE pgboss.job',
			remaining: async () => Number((await q(
				"SELECT count(*) AS n FROM (SELECT 1 FROM pgboss.job WHERE name = 'bench' AND state < 'completed' LIMIT 1) x"))[0].n),
			succeeded: async () => Number((await q(
				"SELECT count(*) AS n FROM pgboss.job WHERE name = 'bench' AND state = 'completed'"))[0].n),
		},
	};

	// The configurations measured, per concurrency.
	const configs = [];
	for (const c of opts.concurrency) {
		configs.push({
			system: 'goodjob', c, label: 'goodjob work --handler Noop=:noop',
			settings: `--concurrency ${c}`,
			spawn: () => new WorkerProcess(opts.goodjob, ['work', '--dsn', opts.dsn, '--queues', 'bench',
				'--handler', 'Noop=:noop', '--concurrency', String(c)], logFile(`goodjob-c${c}`)),
		});
		for (const p of opts.prefetch) {
			configs.push({
				system: 'goodjob', c, label: 'goodjob work --handler Noop=:noop', extra: true,
				settings: `--concurrency ${c} --prefetch ${p}`,
				spawn: () => new WorkerProcess(opts.goodjob, ['work', '--dsn', opts.dsn, '--queues', 'bench',
					'--handler', 'Noop=:noop', '--concurrency', String(c), '--prefetch', String(p)],
				logFile(`goodjob-c${c}-p${p}`)),
			});
		}
		for (const [lq, cd] of opts.graphile) {
			configs.push({
				system: 'graphile', c, label: `graphile-worker ${GRAPHILE_VERSION} run()`,
				settings: `concurrency ${c}, localQueue.size ${lq}, completeJobBatchDelay ${cd}`,
				spawn: () => new WorkerProcess(process.execPath, [me, '--child', 'graphile', '--mode', 'throughput',
					'--dsn', opts.dsn, '--child-concurrency', String(c), '--gw-local-queue', String(lq),
					'--gw-complete-delay', String(cd), '--gw-poll-interval', String(opts.gwPollInterval)],
				logFile(`graphile-c${c}-lq${lq}-cd${cd}`)),
			});
		}
		for (const b of opts.pgbossBatch) {
			configs.push({
				system: 'pgboss', c, label: `pg-boss ${PGBOSS_VERSION} work()`,
				settings: `${c} work() loops, batchSize ${b}, pollingIntervalSeconds ${opts.bossPoll}`,
				spawn: () => new WorkerProcess(process.execPath, [me, '--child', 'pgboss', '--mode', 'throughput',
					'--dsn', opts.dsn, '--workers', String(c), '--boss-batch', String(b),
					'--boss-poll', String(opts.bossPoll)], logFile(`pgboss-c${c}-b${b}`)),
			});
		}
	}

	// One throughput run of cfg; returns { rate, drain, total }.
	const throughputRun = async (cfg) => {
		const sys = systems[cfg.system];
		const n = opts.jobs;
		await reset();
		await sys.enqueue(n);
		await q(sys.analyze);
		await q('CHECKPOINT');
		const w = cfg.spawn();
		let end;
		try {
			const until = Date.now() + 300000;
			for (;;) {
				if (w.exited) throw new Error(`${cfg.label} (${cfg.settings}) exited early`);
				if (Date.now() > until) throw new Error(`${cfg.label} (${cfg.settings}) did not finish in 300 s`);
				if ((await sys.remaining()) === 0) {
					end = wallMs();
					break;
				}
				await sleep(10);
			}
		} finally {
			await w.stop();
		}
		const done = await sys.succeeded(n);
		if (done !== n) throw new Error(`${cfg.label} (${cfg.settings}): ${done} of ${n} jobs succeeded`);
		const first = cfg.system === 'goodjob' ? await sys.first() : w.first;
		if (!first) throw new Error(`${cfg.label}: no first-job time`);
		return { rate: n / ((end - first) / 1000), drain: (end - first) / 1000, total: (end - w.spawnedAt) / 1000 };
	};

	const measured = configs.filter((cfg) => opts.throughput && opts.systems.includes(cfg.system));
	const results = new Map(measured.map((cfg) => [cfg, []]));
	for (let run = 0; run < opts.runs && measured.length; run++) {
		for (const cfg of measured) {
			const r = await throughputRun(cfg);
			results.get(cfg).push(r);
			console.error(`run ${run + 1}: ${cfg.label} (${cfg.settings}): ${Math.round(r.rate)} jobs/s ` +
				`(${r.drain.toFixed(3)} s from the first job, ${r.total.toFixed(3)} s from process start)`);
		}
	}

	// ---------------------------------------------------------- latency

	const latencyClient = new Client({ connectionString: opts.dsn });
	await latencyClient.connect();
	const latencyEnqueue = {
		goodjob: async (i) => Number((await latencyClient.query(
			"SELECT goodjob.enqueue('Latency', jsonb_build_object('i', $1::int), 'latency') AS id", [i])).rows[0].id),
		graphile: async (i) => {
			await latencyClient.query(
				"SELECT graphile_worker.add_job('latency', json_build_object('i', $1::int))", [i]);
			return i;
		},
		pgboss: async (i) => {
			await boss.send('latency', { i });
			return i;
		},
	};

	// Enqueues the latency jobs one by one; returns [{ key, sent, committed, wall }].
	const enqueueSpaced = async (system, count, offset) => {
		const out = [];
		for (let i = 0; i < count; i++) {
			const sent = process.hrtime.bigint();
			const key = await latencyEnqueue[system](offset + i);
			const committed = process.hrtime.bigint();
			out.push({ key, sent, committed, wall: wallMs() });
			await sleep(opts.latencyGapMs);
		}
		return out;
	};

	const ms = (ns) => Number(ns) / 1e6;
	const latencyRows = [];
	const summarize = (label, what, samples, roundTrips) => {
		latencyRows.push({
			label, what, n: samples.length,
			median: median(samples), p99: percentile(samples, 99), max: Math.max(...samples),
			rtt: roundTrips ? median(roundTrips) : null,
		});
	};
	const warmup = 10;

	// Latency with a worker that reports its handler start times ("L" lines).
	const latencyByLines = async (system, label, w) => {
		await w.waitReady(30000);
		await sleep(1000); // let it connect and LISTEN
		await enqueueSpaced(system, warmup, 100000);
		const sent = await enqueueSpaced(system, opts.latencyJobs, 1);
		const until = Date.now() + 10000;
		while (sent.some((s) => !w.starts.has(s.key)) && Date.now() < until) await sleep(20);
		await w.stop();
		const missing = sent.filter((s) => !w.starts.has(s.key)).length;
		if (missing) throw new Error(`${label}: ${missing} latency jobs never started`);
		summarize(label, 'COMMIT returned → handler start',
			sent.map((s) => ms(w.starts.get(s.key) - s.committed)),
			sent.map((s) => ms(s.committed - s.sent)));
		if (system === 'goodjob') {
			// where the time goes: the claim's own time stamp (wall clock)
			const rows = await q('SELECT id, extract(epoch FROM locked_at) * 1000 AS claimed ' +
				'FROM goodjob.jobs WHERE id = ANY ($1::bigint[])', [sent.map((s) => s.key)]);
			const byId = new Map(rows.map((r) => [Number(r.id), Number(r.claimed)]));
			summarize(label, 'COMMIT returned → claimed (locked_at)',
				sent.map((s) => byId.get(s.key) - s.wall), null);
			summarize(label, 'claimed (locked_at) → handler start',
				sent.map((s) => ms(w.starts.get(s.key) - s.committed) - (byId.get(s.key) - s.wall)), null);
		}
	};

	const latencyOf = (system) => opts.latency && opts.systems.includes(system);
	await reset();
	if (opts.latencyWorker && latencyOf('goodjob')) {
		await latencyByLines('goodjob', 'goodjob (library worker, in-process no-op handler)',
			new WorkerProcess(opts.latencyWorker, [opts.dsn, 'latency', '4'], logFile('goodjob-latency-lib')));
	}

	// goodjob work --handler Latency=:noop itself: its claim and completion
	// times from the server (wall clock, same machine).
	await reset();
	if (latencyOf('goodjob')) {
		const label = 'goodjob work --handler Latency=:noop';
		const w = new WorkerProcess(opts.goodjob, ['work', '--dsn', opts.dsn, '--queues', 'latency',
			'--handler', 'Latency=:noop', '--concurrency', '4'], logFile('goodjob-latency-cli'));
		await sleep(1000);
		await enqueueSpaced('goodjob', warmup, 100000);
		const sent = await enqueueSpaced('goodjob', opts.latencyJobs, 1);
		const until = Date.now() + 10000;
		const ids = sent.map((s) => s.key);
		let rows;
		for (;;) {
			rows = await q("SELECT id, extract(epoch FROM locked_at) * 1000 AS claimed, " +
				"extract(epoch FROM finished_at) * 1000 AS finished FROM goodjob.jobs " +
				"WHERE id = ANY ($1::bigint[]) AND state = 'succeeded'", [ids]);
			if (rows.length === ids.length || Date.now() > until) break;
			await sleep(20);
		}
		await w.stop();
		if (rows.length !== ids.length) throw new Error(`${label}: ${ids.length - rows.length} latency jobs did not succeed`);
		const byId = new Map(rows.map((r) => [Number(r.id), r]));
		summarize(label, 'COMMIT returned → claimed (locked_at)',
			sent.map((s) => Number(byId.get(s.key).claimed) - s.wall), sent.map((s) => ms(s.committed - s.sent)));
		summarize(label, 'COMMIT returned → completed (finished_at)',
			sent.map((s) => Number(byId.get(s.key).finished) - s.wall), null);
	}

	if (latencyOf('graphile')) {
		await reset();
		await latencyByLines('graphile', `graphile-worker ${GRAPHILE_VERSION} run(), concurrency 4, defaults`,
			new WorkerProcess(process.execPath, [me, '--child', 'graphile', '--mode', 'latency', '--dsn', opts.dsn,
				'--child-concurrency', '4'], logFile('graphile-latency')));
	}
	if (latencyOf('pgboss')) {
		await reset();
		await latencyByLines('pgboss', `pg-boss ${PGBOSS_VERSION} work(), batchSize 100, pollingIntervalSeconds ${opts.bossPoll}`,
			new WorkerProcess(process.execPath, [me, '--child', 'pgboss', '--mode', 'latency', '--dsn', opts.dsn,
				'--workers', '1', '--boss-batch', '100', '--boss-poll', String(opts.bossPoll)], logFile('pgboss-latency')));
	}

	// ----------------------------------------------------------- report

	const f = (x, d = 0) => x.toFixed(d);
	console.log(`\n### No-op jobs per second, ${opts.jobs} jobs, PostgreSQL ${version}, median of ${opts.runs} runs\n`);
	console.log('| worker | settings | jobs/s | vs faster peer | s from first job | s from process start |');
	console.log('|---|---|---:|---:|---:|---:|');
	const summary = [];
	for (const c of opts.concurrency) {
		const rows = measured.filter((cfg) => cfg.c === c).map((cfg) => {
			const rs = results.get(cfg);
			return { cfg, rate: median(rs.map((r) => r.rate)), drain: median(rs.map((r) => r.drain)), total: median(rs.map((r) => r.total)) };
		});
		const peers = rows.filter((r) => r.cfg.system !== 'goodjob');
		const best = peers.length ? Math.max(...peers.map((r) => r.rate)) : null;
		for (const r of rows) {
			const ratio = best ? f(r.rate / best, 2) + 'x' : 'n/a';
			console.log(`| ${r.cfg.label} | ${r.cfg.settings} | ${f(r.rate)} | ${r.cfg.system === 'goodjob' ? ratio : ''} | ` +
				`${f(r.drain, 3)} | ${f(r.total, 3)} |`);
			if (r.cfg.system === 'goodjob' && !r.cfg.extra && best) summary.push(`concurrency ${c}: ${ratio} the faster peer (target 1.5x)`);
		}
	}
	console.log(`\n### Latency from enqueue COMMIT to handler start, idle listening workers, ` +
		`${opts.latencyJobs} single enqueues ${opts.latencyGapMs} ms apart\n`);
	console.log('| worker | from → to | median ms | p99 ms | max ms | enqueue round trip, median ms |');
	console.log('|---|---|---:|---:|---:|---:|');
	for (const r of latencyRows) {
		console.log(`| ${r.label} | ${r.what} | ${f(r.median, 3)} | ${f(r.p99, 3)} | ${f(r.max, 3)} | ${r.rtt === null ? '' : f(r.rtt, 3)} |`);
	}
	console.log('');
	for (const s of summary) console.log(s);
	const lib = latencyRows.find((r) => r.label.startsWith('goodjob (library'));
	const cli = latencyRows.find((r) => r.label.startsWith('goodjob work') && r.what.includes('claimed'));
	for (const r of [lib, cli].filter(Boolean)) {
		console.log(`latency, ${r.label} (${r.what}): median ${f(r.median, 3)} ms (target 1 ms), p99 ${f(r.p99, 3)} ms (target 5 ms)`);
	}

	if (opts.json) {
		require('fs').writeFileSync(opts.json, JSON.stringify({ version, jobs: opts.jobs, runs: opts.runs,
			throughput: measured.map((cfg) => ({ system: cfg.system, c: cfg.c, label: cfg.label, settings: cfg.settings,
				extra: !!cfg.extra, runs: results.get(cfg) })),
			latency: latencyRows }, null, 1) + '\n');
	}
	await latencyClient.end();
	if (boss) await boss.stop({ graceful: false, wait: false });
	if (workerUtils) await workerUtils.release();
	await admin.end();
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
