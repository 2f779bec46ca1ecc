# goodjob: PGXS build of the extension and its tests

EXTENSION = goodjob
MODULE_big = goodjob
OBJS = \
	src/goodjob.o \
	src/args.o \
	src/queue_spec.o \
	src/enqueue.o \
	src/bulk.o \
	src/claim.o \
	src/claim_start.o \
	src/lifecycle.o \
	src/admin.o \
	src/maintenance.o \
	src/batch.o \
	src/batch_finish.o \
	src/retention.o \
	src/shmem.o \
	src/maintainer.o

DATA = $(wildcard sql/goodjob--*.sql)

REGRESS = setup enqueue claim lifecycle admin maintenance security bulk_enqueue bulk_enqueue_json batch claim_start

ISOLATION = claim_race lease_takeover complete_vs_discard notify batch_last_two batch_discard_race batch_arm_race batch_rearm_race batch_retry_race
ISOLATION_OPTS = --inputdir=test --outputdir=test/output

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers

EXTRA_CLEAN = test/output tmp_check

PG_CONFIG ?= pg_config

# the reference worker and command-line tool (client/), built and installed
# with the extension
all: client
client:
	$(MAKE) -C client PG_CONFIG=$(PG_CONFIG)
install: install-client
install-client: client
	$(MAKE) -C client install PG_CONFIG=$(PG_CONFIG)
clean: clean-client
clean-client:
	$(MAKE) -C client clean
.PHONY: client install-client clean-client

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
