# bench/common.sh: what the bench scripts share. Source it after
# scripts/common.sh. It installs Node.js and the npm packages a benchmark
# needs into a scratch directory (nothing of theirs is committed) and starts a
# throwaway cluster with fixed, documented settings unless --dsn names a server.

BENCH_NPM_DIR=${GOODJOB_BENCH_NPM:-/tmp/goodjob-bench-npm}
BENCH_PORT=${GOODJOB_BENCH_PORT:-54339}

# Server settings of the throwaway bench cluster (durable, like production;
# big enough WAL that checkpoints do not land inside a measurement).
BENCH_SERVER_CONF="fsync = on
synchronous_commit = on
full_page_writes = on
shared_buffers = 1GB
work_mem = 4MB
max_wal_size = 8GB
min_wal_size = 2GB
checkpoint_timeout = 30min
autovacuum = on"

# bench_npm PACKAGE...: install Node.js if missing, then the packages into
# $BENCH_NPM_DIR, and export NODE_PATH for them.
bench_npm() {
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		local GOODJOB_PACKAGES=(nodejs npm)
		ensure_packages
	fi
	mkdir -p "$BENCH_NPM_DIR"
	[[ -f $BENCH_NPM_DIR/package.json ]] ||
		printf '{"name": "goodjob-bench-scratch", "private": true}\n' >"$BENCH_NPM_DIR/package.json"
	log "installing $* into $BENCH_NPM_DIR"
	(cd "$BENCH_NPM_DIR" && npm install --no-audit --no-fund --loglevel=error "$@" >/dev/null)
	export NODE_PATH=$BENCH_NPM_DIR/node_modules
}

# bench_server DSN: with an empty DSN, build and install goodjob and start a
# throwaway cluster; print the DSN to use either way.
bench_server() {
	local dsn=$1 dir
	if [[ -n $dsn ]]; then
		printf '%s\n' "$dsn"
		return 0
	fi
	ensure_packages >&2
	init_workdir bench
	build_and_install "$(stage_tree)" >&2
	dir=$GOODJOB_WORKDIR/cluster
	printf '%s\n' "$BENCH_SERVER_CONF" >"$GOODJOB_WORKDIR/bench.conf"
	start_cluster "$dir" "$BENCH_PORT" "$GOODJOB_WORKDIR/bench.conf" >&2
	(cd "$dir" && as_pg psql -X -q -h "$dir" -p "$BENCH_PORT" -U postgres -d postgres \
		-c 'CREATE EXTENSION goodjob') >&2
	printf 'postgresql://postgres@/postgres?host=%s&port=%s\n' "$dir" "$BENCH_PORT"
}
