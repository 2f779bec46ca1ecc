# shellcheck shell=bash
# scripts/common.sh: helpers shared by test/run.sh and scripts/demo.sh.
#
# Source it, do not run it. It installs missing Debian packages, copies the
# source tree into a temporary directory owned by the postgres OS user, builds
# and installs the extension, and starts and stops throwaway clusters with
# goodjob in shared_preload_libraries. An EXIT trap stops those clusters and
# deletes the temporary directory; when the script fails, the logs are kept and
# their location is printed.
#
# Typical use:
#   source scripts/common.sh
#   ensure_packages
#   init_workdir test                  # sets GOODJOB_WORKDIR
#   stage=$(stage_tree)                # $GOODJOB_WORKDIR/src
#   build_and_install "$stage"
#   start_cluster "$GOODJOB_WORKDIR/cluster" 54321
#   ... as_pg psql -h "$GOODJOB_WORKDIR/cluster" -p 54321 ...
#   stop_cluster "$GOODJOB_WORKDIR/cluster"
#   finish_workdir "$status"           # optional: clean up now instead of at exit
#
# Environment:
#   GOODJOB_KEEP=1   keep the temporary directory even on success

set -euo pipefail

PG_BINDIR=/usr/lib/postgresql/15/bin
PG_CONFIG_BIN=$PG_BINDIR/pg_config
GOODJOB_PACKAGES=(build-essential postgresql-15 postgresql-server-dev-15
	postgresql-15-pgtap libipc-run-perl pgbouncer valgrind)
GOODJOB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GOODJOB_WORKDIR=${GOODJOB_WORKDIR:-}
_GOODJOB_CLUSTERS=()
_GOODJOB_APT_UPDATED=
_GOODJOB_FINISHED=
_GOODJOB_BG_PID=
_GOODJOB_TAIL_PID=

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
is_root() { [[ $(id -u) -eq 0 ]]; }

# Run a command as the postgres OS user (as ourselves when not root), with the
# PostgreSQL 15 binaries first on PATH. Callers cd to a directory postgres can
# enter first.
as_pg() {
	_as_pg_prefix
	"${_PG_PREFIX[@]}" "$@"
}
_as_pg_prefix() {
	if is_root; then
		_PG_PREFIX=(runuser -u postgres -- env PATH="$PG_BINDIR:$PATH")
	else
		_PG_PREFIX=(env PATH="$PG_BINDIR:$PATH")
	fi
}

# run_logged LOG LIMIT DIR CMD...: run CMD as postgres in DIR, killed (with
# all its children) after LIMIT seconds; its output goes to LOG and, as it
# comes, to stdout. Sets RC to its exit status (124 or 137 on timeout). If the
# script is interrupted meanwhile, the EXIT trap stops CMD.
# shellcheck disable=SC2034 # RC is for the caller
run_logged() {
	local logf=$1 limit=$2 dir=$3
	shift 3
	: >"$logf"
	_as_pg_prefix
	# timeout runs CMD in its own process group and signals the whole group.
	(cd "$dir" && exec timeout -k 10 "$limit" "${_PG_PREFIX[@]}" "$@") >"$logf" 2>&1 </dev/null &
	_GOODJOB_BG_PID=$!
	tail -n +1 -f --pid="$_GOODJOB_BG_PID" "$logf" &
	_GOODJOB_TAIL_PID=$!
	RC=0 # read by the caller
	wait "$_GOODJOB_BG_PID" || RC=$?
	_GOODJOB_BG_PID=
	wait "$_GOODJOB_TAIL_PID" || true
	_GOODJOB_TAIL_PID=
}

# Install whichever of the packages the build and tests need are missing.
ensure_packages() {
	local missing=() pkg
	for pkg in "${GOODJOB_PACKAGES[@]}"; do
		if ! dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^ii'; then
			missing+=("$pkg")
		fi
	done
	((${#missing[@]} == 0)) && return 0
	is_root || die "missing packages: ${missing[*]}; run as root or install them"
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if [[ -z $_GOODJOB_APT_UPDATED ]]; then
		apt-get update -q
		_GOODJOB_APT_UPDATED=1
	fi
	apt-get install -y -q "${missing[@]}"
	id postgres >/dev/null 2>&1 || die "no postgres OS user after installing postgresql-15"
}

# Create the temporary directory for this run (/tmp/goodjob-NAME.XXXXXX) and
# set GOODJOB_WORKDIR. Call it in the main shell, not in $(...), so that the
# EXIT trap knows what to clean up.
init_workdir() {
	GOODJOB_WORKDIR=$(mktemp -d "/tmp/goodjob-${1:-run}.XXXXXX")
	chmod 755 "$GOODJOB_WORKDIR"
	if is_root; then chown postgres: "$GOODJOB_WORKDIR"; fi
}

# List the files of the source tree (NUL separated, relative paths): tracked
# and untracked-but-not-ignored files in a git checkout, every file otherwise;
# build and test outputs left in the tree are skipped either way.
_list_sources() {
	(
		cd "$GOODJOB_ROOT"
		if git -c safe.directory="$GOODJOB_ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
			git -c safe.directory="$GOODJOB_ROOT" ls-files -z --cached --others --exclude-standard
		else
			find . -path ./.git -prune -o \( -type f -o -type l \) -print0 | sed -z 's|^\./||'
		fi
	) | grep -zEv '(^|/)(\.git|results|output_iso|tmp_check|tmp_check_iso|log)(/|$)|^test/output/|\.(o|so|bc)$|(^|/)regression\.(diffs|out)$' |
		while IFS= read -r -d '' f; do
			# the index may list files deleted from the work tree
			[[ -e $GOODJOB_ROOT/$f || -L $GOODJOB_ROOT/$f ]] && printf '%s\0' "$f"
		done
}

# Copy the source tree into $GOODJOB_WORKDIR/src, owned by postgres, and print
# that path.
stage_tree() {
	[[ -n $GOODJOB_WORKDIR ]] || die "stage_tree: call init_workdir first"
	local dest=$GOODJOB_WORKDIR/src
	mkdir -p "$dest"
	_list_sources | (cd "$GOODJOB_ROOT" && tar --null -T - -cf -) |
		tar -xf - --no-same-owner -C "$dest"
	[[ -f $dest/Makefile ]] || die "stage_tree: no Makefile in the copy of $GOODJOB_ROOT"
	if is_root; then chown -R postgres: "$dest"; fi
	printf '%s\n' "$dest"
}

# build_and_install STAGE [quiet]: build the extension in the staged tree as
# postgres (from clean), then install it (as root, or as ourselves if the
# PostgreSQL directories are writable, or through passwordless sudo). With
# "quiet", the compiler output goes to $GOODJOB_WORKDIR/build.log and is shown
# only if the build fails.
build_and_install() {
	local stage=$1 quiet=${2:-}
	local make_args=(PG_CONFIG="$PG_CONFIG_BIN")
	local pkglibdir extdir build_log=$GOODJOB_WORKDIR/build.log ok=1
	pkglibdir=$("$PG_CONFIG_BIN" --pkglibdir)
	extdir=$("$PG_CONFIG_BIN" --sharedir)/extension
	log "building in $stage"
	if [[ -n $quiet ]]; then
		_build "$stage" >"$build_log" 2>&1 || { ok=; cat "$build_log" >&2; }
	else
		_build "$stage" || ok=
	fi
	if [[ -z $ok ]]; then
		printf 'error: the build failed\n' >&2
		return 1
	fi
	log "installing into $pkglibdir and $extdir"
	if is_root || [[ -w $pkglibdir && -w $extdir ]]; then
		(cd "$stage" && make -s install "${make_args[@]}") || return 1
	elif sudo -n true 2>/dev/null; then
		(cd "$stage" && sudo -n make -s install "${make_args[@]}") || return 1
	else
		printf 'error: cannot write to %s; run as root (this step installs goodjob there)\n' "$pkglibdir" >&2
		return 1
	fi
}

_build() {
	(cd "$1" && as_pg make -s clean PG_CONFIG="$PG_CONFIG_BIN" >/dev/null &&
		as_pg make -j"$(nproc)" PG_CONFIG="$PG_CONFIG_BIN")
}

# True if nothing seems to use PORT: no Unix socket in the usual places, no
# TCP listener on localhost. (Our clusters listen only on a private socket
# directory, so this is a courtesy check against confusing other servers.)
port_is_free() {
	local port=$1 dir
	for dir in /var/run/postgresql /tmp; do
		[[ -S $dir/.s.PGSQL.$port ]] && return 1
	done
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		return 1
	fi
	return 0
}

# start_cluster DIR PORT [EXTRA-CONF]: initdb a new cluster in DIR/data (as
# postgres, superuser "postgres", trust auth), listening only on a Unix socket
# in DIR, with goodjob preloaded, logging to DIR/server.log; append the file
# EXTRA-CONF to postgresql.conf if it exists; then start the server.
start_cluster() {
	local dir=$1 port=$2 extra=${3:-} locale=C
	if ! port_is_free "$port"; then
		printf 'error: port %s is in use; pick another with GOODJOB_TEST_PORT / GOODJOB_DEMO_PORT\n' "$port" >&2
		return 1
	fi
	mkdir -p "$dir" || return 1
	if is_root; then chown postgres: "$dir" || return 1; fi
	if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then locale=C.UTF-8; fi
	log "initdb in $dir/data (port $port)"
	if ! (cd "$dir" && as_pg initdb -D "$dir/data" -U postgres --auth=trust -E UTF8 \
		--locale="$locale" >"$dir/initdb.log" 2>&1); then
		cat "$dir/initdb.log" >&2
		printf 'error: initdb failed\n' >&2
		return 1
	fi
	cat >>"$dir/data/postgresql.conf" <<-EOF || return 1

		# Added by scripts/common.sh (throwaway test cluster: fsync is off)
		port = $port
		listen_addresses = ''
		unix_socket_directories = '$dir'
		shared_preload_libraries = 'goodjob'
		max_connections = 100
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		log_line_prefix = '%m [%p] %q%a '
	EOF
	if [[ -n $extra && -f $extra ]]; then
		{ printf '\n# From %s\n' "$extra"; cat "$extra"; } >>"$dir/data/postgresql.conf" || return 1
	fi
	_GOODJOB_CLUSTERS+=("$dir")
	if ! (cd "$dir" && as_pg pg_ctl -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null); then
		tail -n 50 "$dir/server.log" >&2 || true
		printf 'error: the cluster in %s did not start; its log is %s/server.log\n' "$dir" "$dir" >&2
		return 1
	fi
}

# stop_cluster DIR: stop the cluster started by start_cluster DIR (fast, or
# immediate if that does not finish in time). Quiet if it is not running.
stop_cluster() {
	local dir=$1 i
	if [[ -f $dir/data/postmaster.pid ]]; then
		(cd "$dir" && as_pg pg_ctl -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1) ||
			(cd "$dir" && as_pg pg_ctl -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1) ||
			log "could not stop the cluster in $dir"
	fi
	for i in "${!_GOODJOB_CLUSTERS[@]}"; do
		[[ ${_GOODJOB_CLUSTERS[$i]} == "$dir" ]] && unset '_GOODJOB_CLUSTERS[i]'
	done
	return 0
}

# finish_workdir STATUS: stop any cluster still running; then delete the
# temporary directory if STATUS is 0, or keep its logs (dropping data
# directories) and say where they are. Runs once; the EXIT trap calls it too.
finish_workdir() {
	local status=${1:-0} dir
	[[ -n $_GOODJOB_FINISHED ]] && return 0
	_GOODJOB_FINISHED=1
	# A command still running under run_logged (interrupted run): timeout
	# passes the signal on to the command's process group.
	if [[ -n $_GOODJOB_BG_PID ]]; then
		log "stopping the running stage"
		kill -TERM "$_GOODJOB_BG_PID" 2>/dev/null || true
		wait "$_GOODJOB_BG_PID" 2>/dev/null || true
	fi
	if [[ -n $_GOODJOB_TAIL_PID ]]; then
		kill "$_GOODJOB_TAIL_PID" 2>/dev/null || true
	fi
	for dir in "${_GOODJOB_CLUSTERS[@]}"; do
		stop_cluster "$dir"
	done
	[[ -n $GOODJOB_WORKDIR && -d $GOODJOB_WORKDIR ]] || return 0
	# Servers that TAP tests started and could not stop (interrupted run).
	while IFS= read -r -d '' dir; do
		dir=$(dirname "$dir")
		log "stopping leftover server in $dir"
		(cd "$GOODJOB_WORKDIR" && as_pg pg_ctl -D "$dir" -m immediate -w -t 30 stop >/dev/null 2>&1) || true
	done < <(find "$GOODJOB_WORKDIR" -name postmaster.pid -print0 2>/dev/null)
	if [[ $status -eq 0 && -z ${GOODJOB_KEEP:-} ]]; then
		rm -rf "$GOODJOB_WORKDIR"
	elif [[ $status -ne 0 ]]; then
		# Data directories are large and useless once the servers are gone.
		rm -rf "$GOODJOB_WORKDIR"/cluster/data
		find "$GOODJOB_WORKDIR" -type d -path '*/tmp_check/t_*_data' -prune -exec rm -rf {} + 2>/dev/null || true
		log "logs and the build tree are kept in $GOODJOB_WORKDIR"
	else
		log "kept $GOODJOB_WORKDIR (GOODJOB_KEEP is set)"
	fi
	return 0
}

# On exit: clean up; if the script is dying early (error or signal) and
# defines a function on_abort, call it with the exit status.
_goodjob_on_exit() {
	local status=$?
	finish_workdir "$status"
	if [[ $status -ne 0 && -z ${_GOODJOB_ABORTED:-} ]] && declare -F on_abort >/dev/null; then
		_GOODJOB_ABORTED=1
		on_abort "$status" || true
	fi
	exit "$status"
}
trap _goodjob_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
