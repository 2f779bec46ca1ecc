// bench/stats.js: small helpers shared by the Node.js benchmark drivers.
'use strict';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function median(xs) {
	const s = [...xs].sort((a, b) => a - b);
	return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// nearest-rank percentile
function percentile(xs, p) {
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)];
}

module.exports = { sleep, median, percentile };
