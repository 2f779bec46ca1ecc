// bench/compare_report.js: turns the figures bench/compare collected (JSON
// files in --dir) into the markdown section of bench/RESULTS.md and the data
// files of the charts (bench/compare_charts.gp). Exits 1, naming them, if
// any expected figure is missing.
//
//   node compare_report.js --dir DIR --out FILE --charts DIR --link PREFIX
//     [--command 'bash bench/compare'] [--bulk-sizes 100000,1000000]
//     [--concurrency 4,16]
'use strict';

const fs = require('fs');
const path = require('path');

const opts = { dir: '', out: '', charts: '', link: 'charts/', command: 'bash bench/compare', bulkSizes: [], concurrency: [4, 16] };
for (let i = 2; i < process.argv.length; i++) {
	const a = process.argv[i];
	const next = () => process.argv[++i];
	if (a === '--dir') opts.dir = next();
	else if (a === '--out') opts.out = next();
	else if (a === '--charts') opts.charts = next();
	else if (a === '--link') opts.link = next();
	else if (a === '--command') opts.command = next();
	else if (a === '--bulk-sizes') opts.bulkSizes = next().split(',').map(Number);
	else if (a === '--concurrency') opts.concurrency = next().split(',').map(Number);
	else throw new Error(`unknown option ${a}`);
}

const read = (name) => {
	const f = path.join(opts.dir, name);
	return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : null;
};
const bulk = read('bulk.json');
const worker = read('worker.json');
const pgq = read('pgq.json');
const batch = read('batch.json');
const pgbench = read('pgbench.json');
const info = fs.existsSync(path.join(opts.dir, 'info.md')) ? fs.readFileSync(path.join(opts.dir, 'info.md'), 'utf8') : '';

const missing = [];
const ok = (x) => typeof x === 'number' && Number.isFinite(x) && x > 0;
const median = (xs) => {
	const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
	if (!s.length) return NaN;
	return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const ratio = (a, b) => (ok(a) && ok(b) ? (a / b).toFixed(2) + 'x' : '');
const SYSTEMS = { goodjob: 'goodjob', graphile: 'graphile-worker', pgboss: 'pg-boss', pgq: 'PgQ', baseline: 'plain SQL' };
const PEERS = new Set(['graphile', 'pgboss', 'pgq']);
// peers that claim and complete every job (PgQ's consumer reads batches)
const QUEUES = new Set(['graphile', 'pgboss']);
const md = [];
const out = (s = '') => md.push(s);
const dat = {};
const chart = (name, header, rows) => {
	dat[name] = [header.join('\t'), ...rows.map((r) => r.map((x) => (typeof x === 'number' ? (Number.isFinite(x) ? x.toFixed(3) : '?') : x)).join('\t'))].join('\n') + '\n';
};
const bestPeer = (rows, key, lower, peerSet = PEERS) => {
	const peers = rows.filter((r) => peerSet.has(r.system) && ok(r[key]));
	if (!peers.length) return null;
	return peers.reduce((b, r) => ((lower ? r[key] < b[key] : r[key] > b[key]) ? r : b));
};

// ------------------------------------------------------------ bulk enqueue

const bulkRows = [];
if (bulk) {
	for (const r of bulk.results) {
		let system = null;
		if (/^(COPY|INSERT)/.test(r.name)) system = 'baseline';
		else if (/^goodjob/.test(r.name)) system = 'goodjob';
		else if (/^graphile/.test(r.name)) system = 'graphile';
		else if (/^pg-boss/.test(r.name)) system = 'pgboss';
		if (system) bulkRows.push({ n: r.n, system, name: r.name, seconds: r.seconds, rate: r.rate });
	}
}
if (pgq) for (const r of pgq.bulk) bulkRows.push({ n: r.n, system: 'pgq', name: r.name.replace(/^PgQ /, ''), seconds: r.seconds, rate: r.rate });
const order = ['baseline', 'goodjob', 'graphile', 'pgboss', 'pgq'];
bulkRows.sort((a, b) => a.n - b.n || order.indexOf(a.system) - order.indexOf(b.system));
for (const n of opts.bulkSizes) {
	const at = bulkRows.filter((r) => r.n === n);
	const need = [['COPY', (r) => /^COPY/.test(r.name)], ['INSERT ... SELECT unnest', (r) => /^INSERT/.test(r.name)],
		['goodjob.bulk_enqueue', (r) => /^goodjob\.bulk_enqueue/.test(r.name)], ['graphile-worker addJobs', (r) => r.system === 'graphile'],
		['pg-boss insert', (r) => r.system === 'pgboss'], ['PgQ insert_event', (r) => r.system === 'pgq' && /insert_event/.test(r.name)],
		['PgQ COPY', (r) => r.system === 'pgq' && /COPY/.test(r.name)]];
	for (const [what, f] of need) if (!at.some((r) => f(r) && ok(r.rate))) missing.push(`bulk enqueue, ${n} jobs: ${what}`);
}

// ------------------------------------------------------------ throughput

const tpRows = [];
if (pgbench) {
	for (const r of pgbench.results) {
		const how = r.system === 'baseline'
			? `pgbench: FOR UPDATE SKIP LOCKED claim, DELETE to complete, ${r.batch} per claim`
			: `pgbench: goodjob.claim / goodjob.complete, ${r.batch} per claim`;
		tpRows.push({ c: r.c, system: r.system, how, short: `${r.system === 'baseline' ? 'SKIP LOCKED loop' : 'goodjob.claim/complete'}, ${r.batch}/claim (pgbench)`,
			rate: median(r.runs.map((x) => x.rate)), jobs: r.jobs, batch: r.batch, pgbench: true });
	}
}
const shortPeer = { graphile: 'graphile-worker', pgboss: 'pg-boss', pgq: 'PgQ consumer loop' };
for (const src of [worker, pgq]) {
	if (!src) continue;
	for (const t of src.throughput) {
		// chart label: the system and what differs between its rows
		let short = shortPeer[t.system] || 'goodjob work';
		if (t.system === 'goodjob') short += ' ' + t.settings.replace(/--concurrency \d+ ?/, '');
		if (t.system === 'graphile') short += ' ' + (t.settings.match(/completeJobBatchDelay \d+/) || [''])[0];
		tpRows.push({ c: t.c, system: t.system, how: `${t.label}, ${t.settings}`, short: short.trim(), rate: median(t.runs.map((x) => x.rate)) });
	}
}
for (const c of opts.concurrency) {
	const at = tpRows.filter((r) => r.c === c);
	const need = [['SKIP LOCKED loop, 1 per claim', (r) => r.system === 'baseline' && r.batch === 1],
		['SKIP LOCKED loop, 100 per claim', (r) => r.system === 'baseline' && r.batch === 100],
		['goodjob in pgbench', (r) => r.system === 'goodjob' && r.pgbench], ['goodjob work', (r) => r.system === 'goodjob' && !r.pgbench],
		['graphile-worker', (r) => r.system === 'graphile'], ['pg-boss', (r) => r.system === 'pgboss'], ['PgQ', (r) => r.system === 'pgq']];
	for (const [what, f] of need) if (!at.some((r) => f(r) && ok(r.rate))) missing.push(`throughput, concurrency ${c}: ${what}`);
}

// ------------------------------------------------------------ latency

const latRows = [];
const sysOf = (label) => (/^goodjob/.test(label) ? 'goodjob' : /^graphile/.test(label) ? 'graphile' : /^pg-boss/.test(label) ? 'pgboss' : 'pgq');
for (const src of [worker, pgq]) if (src) for (const r of src.latency) latRows.push({ ...r, system: sysOf(r.label) });
const startRows = latRows.filter((r) => /handler start$/.test(r.what) && /^COMMIT/.test(r.what));
for (const s of ['goodjob', 'graphile', 'pgboss', 'pgq']) {
	if (!latRows.some((r) => r.system === s && Number.isFinite(r.median))) missing.push(`latency: ${SYSTEMS[s]}`);
}

// ------------------------------------------------------------ fan-in

const fanRows = batch ? batch.results : [];
for (const c of opts.concurrency) {
	for (const b of [true, false]) {
		if (!fanRows.some((r) => r.c === c && r.batch === b && ok(r.seconds))) missing.push(`fan-in, concurrency ${c}: ${b ? 'batch' : 'no batch'}`);
	}
}

// ------------------------------------------------------------ markdown

const jobsTp = worker ? worker.jobs : NaN;
const runs = Math.min(...[bulk, worker, pgq, batch, pgbench].filter(Boolean).map((x) => x.runs));
out('## goodjob next to graphile-worker, pg-boss, PgQ and plain SQL (`bench/compare`)');
out();
out(`Generated by \`${opts.command}\`: one throwaway PostgreSQL 15 server, every system on it in the same run. ` +
	`Each figure is the median of ${runs} run${runs === 1 ? '' : 's'}. Ratios compare figures of this run only; ` +
	'"best peer" is the best of graphile-worker, pg-boss and PgQ in the same group (for worker throughput, of ' +
	'graphile-worker and pg-boss; see there). The method of each part is ' +
	'described under [How bench/compare measures](#how-benchcompare-measures).');
out();
out(info.trim());
out();

const summary = [];
out('### Bulk enqueue');
out();
out('| jobs | system | method | seconds | jobs/s | vs COPY | vs best peer |');
out('|---:|---|---|---:|---:|---:|---:|');
for (const n of [...new Set(bulkRows.map((r) => r.n))]) {
	const at = bulkRows.filter((r) => r.n === n);
	const copy = at.find((r) => /^COPY/.test(r.name));
	const best = bestPeer(at, 'rate');
	for (const r of at) {
		out(`| ${n} | ${SYSTEMS[r.system]} | ${r.name} | ${fmt(r.seconds, 3)} | ${fmt(r.rate)} | ${ratio(r.rate, copy && copy.rate)} | ${ratio(r.rate, best && best.rate)} |`);
	}
	const gj = at.filter((r) => /^goodjob\.bulk_enqueue/.test(r.name)).sort((a, b) => b.rate - a.rate)[0];
	const bestQueue = bestPeer(at, 'rate', false, QUEUES);
	if (gj && best && copy && bestQueue) {
		summary.push(`Bulk enqueue of ${n} jobs: \`${gj.name}\` ${ratio(gj.rate, copy.rate)} COPY, ` +
			`${ratio(gj.rate, best.rate)} the best peer (${SYSTEMS[best.system]} ${best.name}), ` +
			`${ratio(gj.rate, bestQueue.rate)} the faster of graphile-worker and pg-boss (${bestQueue.name}).`);
	}
}
out();
out(`![bulk enqueue, jobs per second](${opts.link}compare_bulk.png)`);
out();
// chart label: the method, with its system in front unless it names it
const bulkLabel = (r) => (r.system === 'baseline' || r.name.startsWith(SYSTEMS[r.system])
	? r.name : `${SYSTEMS[r.system]} ${r.name}`).replace(/, one transaction$/, '').replace(' FROM STDIN', '')
	.replace('ids returned as one array', 'ids as one array').replace('ids returned as rows', 'ids as rows')
	.replace(' parameter,', ',').replace('pgq.current_event_table()', 'the event table');
const bulkLabels = [...new Set(bulkRows.map(bulkLabel))];
chart('bulk', ['method', ...opts.bulkSizes.map((n) => `${n} jobs`)], bulkLabels.map((l) => [l,
	...opts.bulkSizes.map((n) => { const r = bulkRows.find((x) => x.n === n && bulkLabel(x) === l); return r ? r.rate : NaN; })]));

out(`### Worker throughput, no-op jobs (${fmt(jobsTp)} per worker run)`);
out();
out('"Best peer" here is the faster of graphile-worker and pg-boss, which claim and complete every job. PgQ is ' +
	'shown but left out of it: its consumer reads a batch of events and finishes the batch, with no state per event.');
out();
out('| concurrency | system | how | jobs/s | vs SKIP LOCKED loop, 1 per claim | vs best peer |');
out('|---:|---|---|---:|---:|---:|');
for (const c of opts.concurrency) {
	const at = tpRows.filter((r) => r.c === c);
	const base = at.find((r) => r.system === 'baseline' && r.batch === 1);
	const best = bestPeer(at, 'rate', false, QUEUES);
	for (const r of at) out(`| ${c} | ${SYSTEMS[r.system]} | ${r.how} | ${fmt(r.rate)} | ${ratio(r.rate, base && base.rate)} | ${ratio(r.rate, best && best.rate)} |`);
	const gj = at.find((r) => r.system === 'goodjob' && !r.pgbench);
	const pq = at.find((r) => r.system === 'pgq');
	if (gj && best && base) {
		summary.push(`Worker throughput at concurrency ${c}: \`${gj.short}\` ${fmt(gj.rate)} jobs/s, ` +
			`${ratio(gj.rate, base.rate)} the plain SKIP LOCKED loop (1 per claim), ${ratio(gj.rate, best.rate)} the best peer ` +
			`(${best.how}: ${fmt(best.rate)} jobs/s)` + (pq ? `; PgQ's consumer loop read ${fmt(pq.rate)} events/s.` : '.'));
	}
}
out();
out(`![worker throughput, jobs per second](${opts.link}compare_throughput.png)`);
out();
const tpLabels = [...new Set(tpRows.map((r) => r.short))];
chart('throughput', ['worker', ...opts.concurrency.map((c) => `concurrency ${c}`)], tpLabels.map((l) => [l,
	...opts.concurrency.map((c) => { const r = tpRows.find((x) => x.c === c && x.short === l); return r ? r.rate : NaN; })]));

out(`### Latency from enqueue COMMIT to the job starting, idle workers (${latRows.length ? latRows[0].n : 0} single enqueues)`);
out();
out('| system | worker | from → to | median ms | p99 ms | max ms | enqueue round trip, median ms | median vs best peer (lower is better) |');
out('|---|---|---|---:|---:|---:|---:|---:|');
const bestLat = bestPeer(startRows, 'median', true);
for (const r of latRows) {
	const cmp = startRows.includes(r) && bestLat ? ratio(r.median, bestLat.median) : '';
	out(`| ${SYSTEMS[r.system]} | ${r.label} | ${r.what} | ${fmt(r.median, 3)} | ${fmt(r.p99, 3)} | ${fmt(r.max, 3)} | ${r.rtt == null ? '' : fmt(r.rtt, 3)} | ${cmp} |`);
}
const gjLat = startRows.find((r) => r.system === 'goodjob');
if (gjLat && bestLat) {
	summary.push(`Latency, COMMIT to handler start: goodjob median ${fmt(gjLat.median, 3)} ms, p99 ${fmt(gjLat.p99, 3)} ms; ` +
		`best peer ${SYSTEMS[bestLat.system]} median ${fmt(bestLat.median, 3)} ms, p99 ${fmt(bestLat.p99, 3)} ms.`);
}
out();
out(`![latency, milliseconds](${opts.link}compare_latency.png)`);
out();
chart('latency', ['worker', 'median ms', 'p99 ms'], startRows.map((r) => [
	`${SYSTEMS[r.system]}${r.system === 'goodjob' ? ' (library worker)' : ''}`, r.median, r.p99]));

out(`### Batch fan-in: ${batch ? batch.jobs : '?'} jobs and a completion callback`);
out();
out('| system | concurrency | from → to | seconds | last job finished, s | vs the same jobs without a batch |');
out('|---|---:|---|---:|---:|---:|');
for (const c of opts.concurrency) {
	const plain = fanRows.find((r) => r.c === c && !r.batch);
	for (const r of fanRows.filter((x) => x.c === c)) {
		out(`| goodjob${r.batch ? ' batch (on_finish)' : ', no batch'} | ${c} | ${r.what} | ${fmt(r.seconds, 3)} | ${fmt(r.last_job, 3)} | ${r.batch ? ratio(r.seconds, plain && plain.seconds) : ''} |`);
	}
	const b = fanRows.find((r) => r.c === c && r.batch);
	if (b && plain) {
		summary.push(`Batch fan-in at concurrency ${c}: callback started ${fmt(b.seconds, 3)} s after the first enqueue, ` +
			`${fmt((b.seconds - b.last_job) * 1000, 1)} ms after the last job finished; ${ratio(b.seconds, plain.seconds)} the time of the same jobs without a batch.`);
	}
}
out('| graphile-worker 0.17.3 | | no comparable feature | | | |');
out('| pg-boss 10.4.2 | | no comparable feature | | | |');
out('| PgQ | | no comparable feature | | | |');
out();
out('None of the peers can run a job when a group of jobs has finished: graphile-worker 0.17.3 has "batch jobs", ' +
	'which are one job whose payload is an array, not a group of jobs with a callback; pg-boss 10 removed ' +
	'`onComplete` (completion jobs) and suggests dead-letter queues instead; a PgQ batch is the set of events ' +
	'between two ticks that one consumer reads, not a group that producers fill. Doing it with any of them means ' +
	'writing the counting yourself, so no figure is given for them.');
out();
out(`![batch fan-in, seconds](${opts.link}compare_fanin.png)`);
out();
chart('fanin', ['concurrency', 'batch: first enqueue to callback', 'no batch: first enqueue to last job'],
	opts.concurrency.map((c) => [`concurrency ${c}`, (fanRows.find((r) => r.c === c && r.batch) || {}).seconds,
		(fanRows.find((r) => r.c === c && !r.batch) || {}).seconds]));

out('### Summary (generated from the tables above)');
out();
for (const s of summary) out(`- ${s}`);
out();

out('### How bench/compare measures');
out();
const bulkJobs = opts.bulkSizes.join(' and ');
const pgbenchJobs = pgbench ? [...new Set(pgbench.results.map((r) => `${r.jobs} (${r.batch} per claim)`))].join(', ') : '?';
for (const line of [
	`- **Bulk enqueue** (${bulkJobs} jobs): \`bench/bulk.js\`, as \`bench/bulk\` runs it (every method starts from empty tables ` +
	'after VACUUM and CHECKPOINT; client-side encoding is done before the clock starts), plus `bench/compare_pgq.js` for ' +
	"PgQ: `pgq.insert_event` for every event in one statement and transaction, and COPY into `pgq.current_event_table()`, " +
	'which PgQ documents as the way to add events in bulk. Each peer uses its own bulk path: graphile-worker `addJobs`, ' +
	'pg-boss `insert`. The baselines, COPY and `INSERT ... SELECT FROM unnest`, write goodjob\'s own table ' +
	'(`goodjob.active_jobs`, with its indexes): they are what PostgreSQL itself does with the same rows. A PgQ event ' +
	'table has one index (on `ev_txid`), which is why COPY into it beats that baseline. The PgQ rows are compared ' +
	'with the COPY baseline measured by bench/bulk.js in the same run.',
	`- **Worker throughput**: \`bench/worker.js\` (see the Worker section below for its method) with ${fmt(jobsTp)} jobs. ` +
	'PgQ has no worker runtime: its row is a plain SQL consumer loop (`pgq.next_batch`, `pgq.get_batch_events`, no-op ' +
	'handlers, `pgq.finish_batch`, one transaction per batch) over events inserted with a tick after every 1000, so ' +
	'batches of 1000 events. PgQ keeps no state per event (a batch is finished as a whole and the events stay in ' +
	'rotating tables), so its figure is a read rate, not a claim-and-complete rate. ' +
	`The SQL baselines are pgbench runs (-M prepared, -j 2) draining a backlog of ${pgbenchJobs} jobs: ` +
	'`bench/compare_claim.sql` on the plain table of `bench/compare_baseline.sql` (claim with `FOR UPDATE SKIP LOCKED` ' +
	'in one transaction, DELETE in another), and `bench/compare_goodjob_claim.sql`, the same loop through ' +
	'`goodjob.claim` and `goodjob.complete`.',
	'- **Latency**: `bench/worker.js` for goodjob, graphile-worker and pg-boss (goodjob\'s handler start through the client ' +
	'library\'s worker with an in-process no-op handler, `bench/latency_worker.c`); for PgQ an idle consumer loop that ' +
	'calls `pgq.next_batch` every 10 ms with `pgq.ticker()` called every 10 ms and the queue\'s `ticker_max_lag` 0. ' +
	'With pgqd\'s defaults (a ticker pass every second, `ticker_max_lag` 3 s) PgQ\'s latency is seconds, not milliseconds.',
	'- **Batch fan-in**: `bench/compare_batch.js`. An idle `goodjob work --handler Noop=:noop --handler FanInDone=:noop` ' +
	'listens; one producer transaction creates a batch with `on_finish => \'FanInDone\'`, `bulk_enqueue`s the jobs into it ' +
	'and arms it with `batch_enqueue`. The time runs on the server\'s clock from the start of that transaction to the ' +
	'callback job\'s `locked_at`. The reference is the same jobs without a batch, to the last `finished_at`.',
]) out(line);

fs.writeFileSync(opts.out, md.join('\n') + '\n');
if (opts.charts) for (const [name, text] of Object.entries(dat)) fs.writeFileSync(path.join(opts.charts, `${name}.dat`), text);
if (missing.length) {
	console.error('bench/compare: these parts produced no figure:');
	for (const m of missing) console.error(`  ${m}`);
	process.exit(1);
}
