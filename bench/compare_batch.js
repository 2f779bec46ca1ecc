// bench/compare_batch.js: batch fan-in for bench/compare. A producer creates
// a goodjob batch with an on_finish callback, bulk-enqueues --jobs no-op jobs
// into it and arms it, all in one transaction; an idle `goodjob work` runs
// them; the figure is the time from the start of that transaction to the
// callback job being claimed (its locked_at). The reference is the same jobs
// without a batch, to the last one finished. Both times come from the
// server's clock. Writes its figures to --json for bench/compare_report.js.
'use strict';

const fs = require('fs');
const { spawn } = require('child_process');

const { sleep, median } = require('./stats');

function parseArgs(argv) {
	const opts = { dsn: '', json: '', goodjob: 'goodjob', jobs: 10000, runs: 3, concurrency: [4, 16], logDir: '' };
	for (let i = 2; i < argv.length; i++) {
		const a = argv[i];
		const next = () => argv[++i];
		if (a === '--dsn') opts.dsn = next();
		else if (a === '--json') opts.json = next();
		else if (a === '--goodjob') opts.goodjob = next();
		else if (a === '--jobs') opts.jobs = Number(next());
		else if (a === '--runs') opts.runs = Number(next());
		else if (a === '--concurrency') opts.concurrency = next().split(',').map(Number);
		else if (a === '--log-dir') opts.logDir = next();
		else throw new Error(`unknown option ${a}`);
	}
	if (!opts.dsn) throw new Error('--dsn is required');
	return opts;
}

async function main() {
	const opts = parseArgs(process.argv);
	const { Client } = require('pg');
	const db = new Client({ connectionString: opts.dsn });
	await db.connect();
	const q = async (sql, params) => (await db.query(sql, params)).rows;
	const one = async (sql, params) => (await q(sql, params))[0];
	if (!(await one("SELECT count(*) > 0 AS ok FROM pg_stat_activity WHERE backend_type = 'goodjob maintainer' " +
		'AND datname = current_database()')).ok) {
		throw new Error('no goodjob maintainer serves this database: batches would never finish');
	}

	const n = opts.jobs;
	const args = '{' + Array.from({ length: n }, (_, i) => `"{\\"i\\": ${i}}"`).join(',') + '}';
	const reset = async () => {
		await q('TRUNCATE goodjob.active_jobs, goodjob.finished_jobs, goodjob.batches');
		await q('VACUUM ANALYZE goodjob.active_jobs');
		await q('CHECKPOINT');
	};

	// One run: an idle worker, then the producer's transaction; returns seconds.
	const run = async (c, withBatch, label) => {
		await reset();
		const log = opts.logDir ? fs.openSync(`${opts.logDir}/batch-${label}-c${c}.log`, 'a') : 'ignore';
		const w = spawn(opts.goodjob, ['work', '--dsn', opts.dsn, '--queues', 'fanin', '--handler', 'Noop=:noop',
			'--handler', 'FanInDone=:noop', '--concurrency', String(c)], { stdio: ['ignore', 'ignore', log] });
		if (opts.logDir) fs.closeSync(log);
		let exited = false;
		const exit = new Promise((resolve) => w.on('exit', () => { exited = true; resolve(); }));
		try {
			await sleep(1000); // let it connect and LISTEN
			await q('BEGIN');
			const t0 = Number((await one('SELECT extract(epoch FROM clock_timestamp()) * 1000 AS t')).t);
			let batch = null;
			if (withBatch) {
				batch = (await one("SELECT goodjob.batch_create('compare fan-in', on_finish => 'FanInDone', " +
					"callback_queue_name => 'fanin') AS id")).id;
			}
			await q("SELECT count(*) FROM goodjob.bulk_enqueue('{Noop}', $1::jsonb[], '{fanin}', batch_id => $2)", [args, batch]);
			if (withBatch) await q('SELECT goodjob.batch_enqueue($1)', [batch]);
			await q('COMMIT');
			const until = Date.now() + 300000;
			for (;;) {
				if (exited) throw new Error('goodjob work exited early');
				if (Date.now() > until) throw new Error(`fan-in (${label}, concurrency ${c}) did not finish in 300 s`);
				const done = withBatch
					? await one("SELECT count(*) > 0 AS ok FROM goodjob.jobs WHERE batch_callback_id = $1 AND state = 'succeeded'", [batch])
					: await one("SELECT NOT EXISTS (SELECT 1 FROM goodjob.active_jobs WHERE queue_name = 'fanin') AS ok");
				if (done.ok) break;
				await sleep(10);
			}
			const jobs = await one("SELECT count(*) FILTER (WHERE state = 'succeeded') AS ok, " +
				'extract(epoch FROM max(finished_at)) * 1000 AS last FROM goodjob.jobs ' +
				"WHERE queue_name = 'fanin' AND batch_callback_id IS NULL");
			if (Number(jobs.ok) !== n) throw new Error(`fan-in (${label}): ${jobs.ok} of ${n} jobs succeeded`);
			const r = { seconds: (Number(jobs.last) - t0) / 1000, last_job: (Number(jobs.last) - t0) / 1000 };
			if (withBatch) {
				const cb = await one('SELECT extract(epoch FROM locked_at) * 1000 AS claimed FROM goodjob.jobs ' +
					"WHERE batch_callback_id = $1 AND job_class = 'FanInDone'", [batch]);
				r.seconds = (Number(cb.claimed) - t0) / 1000;
			}
			return r;
		} finally {
			if (!exited) {
				w.kill('SIGTERM');
				await exit;
			}
		}
	};

	const configs = [];
	for (const c of opts.concurrency) {
		configs.push({ c, batch: true, label: 'batch', what: 'first enqueue → on_finish callback claimed', runs: [] });
		configs.push({ c, batch: false, label: 'plain', what: 'first enqueue → last job finished', runs: [] });
	}
	for (let i = 0; i < opts.runs; i++) {
		for (const cfg of configs) {
			const r = await run(cfg.c, cfg.batch, cfg.label);
			cfg.runs.push(r);
			console.error(`fan-in run ${i + 1}, ${cfg.label}, concurrency ${cfg.c}: ${r.seconds.toFixed(3)} s ` +
				`(last job finished at ${r.last_job.toFixed(3)} s)`);
		}
	}
	const out = {
		jobs: n, runs: opts.runs,
		results: configs.map((cfg) => ({
			system: 'goodjob', c: cfg.c, batch: cfg.batch, what: cfg.what,
			seconds: median(cfg.runs.map((r) => r.seconds)), last_job: median(cfg.runs.map((r) => r.last_job)),
			runs: cfg.runs,
		})),
	};
	if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(out, null, 1) + '\n');
	await db.end();
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
