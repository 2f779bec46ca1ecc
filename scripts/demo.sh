#!/usr/bin/env bash
# scripts/demo.sh: build goodjob, start a throwaway PostgreSQL 15 cluster with
# it preloaded, and walk through enqueue / claim / complete / fail and a batch
# whose callbacks the server enqueues, with psql
# (scripts/demo.sql). The cluster and its files are removed afterwards.
#
# Environment:
#   GOODJOB_DEMO_PORT  port of the throwaway cluster (default 54329)
#   GOODJOB_KEEP=1     keep the temporary directory

set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PORT=${GOODJOB_DEMO_PORT:-54329}

ensure_packages
init_workdir demo
STAGE=$(stage_tree)
build_and_install "$STAGE" quiet
start_cluster "$GOODJOB_WORKDIR/cluster" "$PORT"

echo
(cd "$STAGE" && as_pg psql -X -q -v ON_ERROR_STOP=1 \
	-h "$GOODJOB_WORKDIR/cluster" -p "$PORT" -U postgres -d postgres \
	-f scripts/demo.sql)
echo

stop_cluster "$GOODJOB_WORKDIR/cluster"
finish_workdir 0
echo "demo finished; the throwaway cluster is gone."
