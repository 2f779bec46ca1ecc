// bench/bulk.js: bulk enqueue throughput of goodjob next to COPY, plain SQL
// and peers, all on one server in one run. Started by bench/bulk, which
// installs the npm packages and starts the throwaway cluster.
//
// Every figure is the median of --runs runs; before each run the job tables
// are emptied and a CHECKPOINT is taken, so every method starts from the same
// state. Client-side encoding (array literals, COPY text) is prepared before
// the clock starts: the figures measure the server, which is what differs.
'use strict';

const fs = require('fs');
const { Client, types } = require('pg');
const { from: copyFrom } = require('pg-copy-streams');

function parseArgs(argv) {
	const opts = {
		dsn: process.env.DATABASE_URL || '',
		sizes: [10000, 100000, 1000000],
		peerSizes: [10000, 100000],
		runs: 3,
		peers: true,
	};
	for (let i = 2; i < argv.length; i++) {
		const a = argv[i];
		const next = () => argv[++i];
		if (a === '--dsn') opts.dsn = next();
		else if (a === '--sizes') opts.sizes = next().split(',').map(Number);
		else if (a === '--peer-sizes') opts.peerSizes = next().split(',').map(Number);
		else if (a === '--runs') opts.runs = Number(next());
		else if (a === '--no-peers') opts.peers = false;
		else if (a === '--json') opts.json = next(); // also write the figures to this file (bench/compare)
		else throw new Error(`unknown option ${a}`);
	}
	if (!opts.dsn) throw new Error('--dsn (or DATABASE_URL) is required');
	return opts;
}

// The job arguments every method enqueues: one small JSON object per job.
function jobArgs(n) {
	const out = new Array(n);
	for (let i = 0; i < n; i++) out[i] = { user_id: i, template: 'welcome' };
	return out;
}

// A PostgreSQL array literal of JSON texts, quoted as array_in expects.
function jsonArrayLiteral(objs) {
	const parts = new Array(objs.length);
	for (let i = 0; i < objs.length; i++) {
		parts[i] = '"' + JSON.stringify(objs[i]).replace(/[\\"]/g, '\\$&') + '"';
	}
	return '{' + parts.join(',') + '}';
}

// The same JSON texts as a text[] in PostgreSQL's binary array format
// (array_send: dimensions, then a length and the bytes of each element).
// node-postgres sends a Buffer parameter in binary format.
function jsonTextArrayBinary(objs) {
	const texts = objs.map((o) => Buffer.from(JSON.stringify(o)));
	const out = Buffer.allocUnsafe(20 + texts.reduce((sum, t) => sum + 4 + t.length, 0));
	let at = out.writeInt32BE(1, 0);			// one dimension
	at = out.writeInt32BE(0, at);				// no NULL elements
	at = out.writeUInt32BE(25, at);				// element type text
	at = out.writeInt32BE(objs.length, at);		// length
	at = out.writeInt32BE(1, at);				// lower bound
	for (const t of texts) {
		at = out.writeInt32BE(t.length, at);
		at += t.copy(out, at);
	}
	return out;
}

// COPY text-format rows (queue_name, job_class, args), in 1 MB chunks.
function copyChunks(objs) {
	const chunks = [];
	let cur = [];
	let size = 0;
	for (const o of objs) {
		const line = 'default\tSendEmail\t' + JSON.stringify(o).replace(/\\/g, '\\\\') + '\n';
		cur.push(line);
		size += line.length;
		if (size > 1 << 20) {
			chunks.push(Buffer.from(cur.join('')));
			cur = [];
			size = 0;
		}
	}
	if (cur.length) chunks.push(Buffer.from(cur.join('')));
	return chunks;
}

function median(xs) {
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.floor(s.length / 2)];
}

async function timed(fn) {
	const t0 = process.hrtime.bigint();
	await fn();
	return Number(process.hrtime.bigint() - t0) / 1e9;
}

// Resident anonymous memory (private heap) of a backend, in bytes.
function rssAnon(pid) {
	const m = /RssAnon:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
	return m ? Number(m[1]) * 1024 : NaN;
}

async function copyInto(client, chunks) {
	await new Promise((resolve, reject) => {
		const stream = client.query(copyFrom(
			'COPY goodjob.active_jobs (queue_name, job_class, args) FROM STDIN'));
		stream.on('error', reject);
		stream.on('finish', resolve);
		for (const c of chunks) stream.write(c);
		stream.end();
	});
}

async function main() {
	const opts = parseArgs(process.argv);
	const admin = new Client({ connectionString: opts.dsn });
	await admin.connect();
	const version = (await admin.query('SHOW server_version')).rows[0].server_version;

	// Peers, installed by bench/bulk into its scratch directory.
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
		await boss.createQueue('SendEmail');
	}

	const reset = async () => {
		await admin.query('TRUNCATE goodjob.active_jobs, goodjob.finished_jobs');
		if (opts.peers) {
			await admin.query('TRUNCATE graphile_worker._private_jobs CASCADE');
			await admin.query("DELETE FROM pgboss.job WHERE name = 'SendEmail'");
		}
		await admin.query('VACUUM');
		await admin.query('CHECKPOINT');
	};

	let client = new Client({ connectionString: opts.dsn });
	await client.connect();
	let pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
	const inTx = async (fn) => {
		await client.query('BEGIN');
		await fn();
		await client.query('COMMIT');
	};

	const results = [];
	// peak backend memory is sampled for these, at the largest size
	const jsonOneArray = 'goodjob.bulk_enqueue_json, ids returned as one array';
	const jsonBinary = 'goodjob.bulk_enqueue_json, binary parameter, ids returned as one array';
	const memoryProbes = new Set(['goodjob.bulk_enqueue, ids returned', 'parse the jsonb[] parameter only (no insert)',
		jsonOneArray, jsonBinary, 'parse the text[] parameter only (no insert)']);
	// probes whose args parameter is text[] (the others send jsonb[])
	const textProbes = new Set([jsonOneArray, jsonBinary, 'parse the text[] parameter only (no insert)']);
	// the ids of a bulk_enqueue_json call as one bigint[], in input order
	const oneArraySql = 'SELECT array_agg(id ORDER BY n) AS ids ' +
		"FROM goodjob.bulk_enqueue_json('{SendEmail}', $1::text[]) WITH ORDINALITY AS t(id, n)";
	// node-postgres's general array parser takes over a second for a million
	// bigints; a bigint[] without NULLs is "{1,2,...}", so splitting it is
	// enough (README: bulk_enqueue_json)
	const splitIds = {
		getTypeParser: (oid, format) => (oid === 1016 && format !== 'binary' ?
			(text) => (text === '{}' ? [] : text.slice(1, -1).split(',')) : types.getTypeParser(oid, format)),
	};
	const oneArray = async (value) => {
		const r = await client.query({ text: oneArraySql, values: [value], rowMode: 'array', types: splitIds });
		return r.rows[0][0];
	};
	const memory = new Map();
	const maxSize = Math.max(...opts.sizes, ...(opts.peers ? opts.peerSizes : []));
	const allArgs = jobArgs(maxSize);

	// warm-up: creates the WAL segments that later runs recycle
	await reset();
	await inTx(() => copyInto(client, copyChunks(allArgs)));

	for (const n of opts.sizes) {
		const objs = allArgs.slice(0, n);
		const literal = jsonArrayLiteral(objs);
		const binary = jsonTextArrayBinary(objs);
		const chunks = copyChunks(objs);
		const peerSize = opts.peers && opts.peerSizes.includes(n);
		const gwSpecs = objs.map((o) => ({ identifier: 'SendEmail', payload: o }));
		const bossJobs = objs.map((o) => ({ name: 'SendEmail', data: o }));

		const methods = [
			['COPY FROM STDIN (baseline)', () => inTx(() => copyInto(client, chunks))],
			['goodjob.bulk_enqueue, ids returned', () => inTx(async () => {
				const r = await client.query({
					text: "SELECT goodjob.bulk_enqueue('{SendEmail}', $1::jsonb[]) AS id",
					values: [literal],
					rowMode: 'array',
				});
				if (r.rowCount !== n) throw new Error(`bulk_enqueue returned ${r.rowCount} ids`);
			})],
			['goodjob.bulk_enqueue, ids counted', () => inTx(() => client.query(
				"SELECT count(*) FROM goodjob.bulk_enqueue('{SendEmail}', $1::jsonb[])", [literal]))],
			['parse the jsonb[] parameter only (no insert)', () => client.query(
				'SELECT count(*) FROM unnest($1::jsonb[])', [literal])],
			[jsonOneArray, () => inTx(async () => {
				const ids = await oneArray(literal);
				if (ids.length !== n) throw new Error(`bulk_enqueue_json returned ${ids.length} ids`);
			})],
			['goodjob.bulk_enqueue_json, ids returned as one array, default array parser', () => inTx(async () => {
				const r = await client.query({ text: oneArraySql, values: [literal], rowMode: 'array' });
				if (r.rows[0][0].length !== n) throw new Error(`bulk_enqueue_json returned ${r.rows[0][0].length} ids`);
			})],
			['goodjob.bulk_enqueue_json, ids returned as rows', () => inTx(async () => {
				const r = await client.query({
					text: "SELECT id FROM goodjob.bulk_enqueue_json('{SendEmail}', $1::text[]) AS id",
					values: [literal],
					rowMode: 'array',
				});
				if (r.rowCount !== n) throw new Error(`bulk_enqueue_json returned ${r.rowCount} ids`);
			})],
			['goodjob.bulk_enqueue_json, ids counted', () => inTx(() => client.query(
				"SELECT count(*) FROM goodjob.bulk_enqueue_json('{SendEmail}', $1::text[])", [literal]))],
			// binary text[] and a generic plan: no array_in, and no copy of the
			// parameter into the plan as a constant
			[jsonBinary, () => inTx(async () => {
				await client.query('SET LOCAL plan_cache_mode = force_generic_plan');
				const ids = await oneArray(binary);
				if (ids.length !== n) throw new Error(`bulk_enqueue_json returned ${ids.length} ids`);
			})],
			['parse the text[] parameter only (no insert)', () => client.query(
				'SELECT count(*) FROM unnest($1::text[])', [literal])],
			['INSERT ... SELECT FROM unnest', () => inTx(() => client.query(
				'INSERT INTO goodjob.active_jobs (queue_name, job_class, args) ' +
				"SELECT 'default', 'SendEmail', a FROM unnest($1::jsonb[]) AS a", [literal]))],
		];
		if (peerSize) {
			methods.push(['goodjob.enqueue per job, one transaction', () => inTx(() => client.query(
				"SELECT count(goodjob.enqueue('SendEmail', a)) FROM unnest($1::jsonb[]) AS a",
				[literal]))]);
			methods.push(['graphile-worker addJobs', () => workerUtils.addJobs(gwSpecs)]);
			methods.push(['pg-boss insert', () => boss.insert(bossJobs)]);
		}

		const times = new Map(methods.map(([name]) => [name, []]));
		for (let run = 0; run < opts.runs; run++) {
			for (const [name, fn] of methods) {
				await reset();
				let peak = 0;
				let base = 0;
				let sampler = null;
				const sampleMemory = n === Math.max(...opts.sizes) && memoryProbes.has(name);
				if (sampleMemory) {
					// a fresh backend (warmed up by a rolled-back call), so that
					// memory an earlier method freed but kept does not hide this one's
					await client.end();
					client = new Client({ connectionString: opts.dsn });
					await client.connect();
					pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
					await client.query('BEGIN');
					await client.query("SELECT count(*) FROM goodjob.bulk_enqueue_json('{Warm}', '{\"{}\"}')");
					await client.query('ROLLBACK');
					base = rssAnon(pid);
					peak = base;
					sampler = setInterval(() => { peak = Math.max(peak, rssAnon(pid)); }, 2);
				}
				times.get(name).push(await timed(fn));
				if (sampler) {
					clearInterval(sampler);
					peak = Math.max(peak, rssAnon(pid));
					const argsType = textProbes.has(name) ? 'text[]' : 'jsonb[]';
					const sizes = (await client.query(
						`SELECT pg_column_size($1::${argsType}) + pg_column_size('{SendEmail}'::text[]) AS bytes`,
						[literal])).rows[0];
					const sent = name === jsonBinary ? binary.length : Buffer.byteLength(literal);
					const m = { n, peak: peak - base, arrays: Number(sizes.bytes), argsType, literal: sent };
					const prev = memory.get(name);
					if (!prev || m.peak > prev.peak) memory.set(name, m);
				}
			}
		}
		const copyTime = median(times.get('COPY FROM STDIN (baseline)'));
		for (const [name] of methods) {
			const t = median(times.get(name));
			results.push({ n, name, seconds: t, rate: n / t, ratio: copyTime / t });
		}
	}

	console.log(`\nbulk enqueue, PostgreSQL ${version}, median of ${opts.runs} runs\n`);
	console.log('| jobs | method | seconds | jobs/s | vs COPY |');
	console.log('|---:|---|---:|---:|---:|');
	for (const r of results) {
		console.log(`| ${r.n} | ${r.name} | ${r.seconds.toFixed(3)} | ${Math.round(r.rate)} | ${r.ratio.toFixed(2)}x |`);
	}
	const ratioTo = (n, a, b) => {
		const x = results.find((r) => r.n === n && r.name === a);
		const y = results.find((r) => r.n === n && r.name === b);
		return x && y ? (x.rate / y.rate).toFixed(2) + 'x' : 'n/a';
	};
	if (opts.peers) {
		console.log('');
		for (const n of opts.peerSizes.filter((s) => opts.sizes.includes(s))) {
			console.log(`${n} jobs: bulk_enqueue vs graphile-worker addJobs ${ratioTo(n, 'goodjob.bulk_enqueue, ids returned', 'graphile-worker addJobs')}, ` +
				`vs pg-boss insert ${ratioTo(n, 'goodjob.bulk_enqueue, ids returned', 'pg-boss insert')}`);
			console.log(`${n} jobs: bulk_enqueue_json (ids as one array) vs graphile-worker addJobs ${ratioTo(n, jsonOneArray, 'graphile-worker addJobs')}, ` +
				`vs pg-boss insert ${ratioTo(n, jsonOneArray, 'pg-boss insert')}`);
		}
	}
	const mb = (b) => (b / 1048576).toFixed(1) + ' MB';
	for (const [name, m] of memory) {
		console.log(`\nbackend memory, ${name}, ${m.n} jobs: peak RssAnon growth ${mb(m.peak)}; ` +
			`input arrays (${m.argsType} args) ${mb(m.arrays)} as stored (${mb(m.literal)} as sent); ` +
			`${(m.peak / m.arrays).toFixed(2)}x the arrays`);
	}
	const own = memory.get('goodjob.bulk_enqueue, ids returned');
	const parse = memory.get('parse the jsonb[] parameter only (no insert)');
	if (own && parse) {
		console.log(`bulk_enqueue's own memory beyond parsing its parameter: ${mb(own.peak - parse.peak)} ` +
			`(${((own.peak - parse.peak) / own.arrays).toFixed(2)}x the arrays)`);
	}
	const ownJson = memory.get(jsonOneArray);
	const parseText = memory.get('parse the text[] parameter only (no insert)');
	if (ownJson && parseText) {
		console.log(`bulk_enqueue_json's own memory (ids as one array) beyond parsing its parameter: ${mb(ownJson.peak - parseText.peak)} ` +
			`(${((ownJson.peak - parseText.peak) / ownJson.arrays).toFixed(2)}x the arrays)`);
	}

	if (opts.json) {
		fs.writeFileSync(opts.json, JSON.stringify({ version, runs: opts.runs, results,
			memory: [...memory].map(([name, m]) => ({ name, ...m })) }, null, 1) + '\n');
	}
	await client.end();
	if (boss) await boss.stop({ graceful: false, wait: false });
	if (workerUtils) await workerUtils.release();
	await admin.end();
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
