# genie_fdw: PostgreSQL foreign-data wrapper for Databricks Genie
#
# Build against the PostgreSQL given by PG_CONFIG (PGXS); libcurl and json-c
# come from the system through pkg-config.  `make WERROR=1` turns warnings
# into errors (CI does).

MODULE_big = genie_fdw
OBJS = src/genie_fdw.o src/option.o src/http.o src/credentials.o \
	src/request.o src/ask.o src/chunks.o \
	src/genie_decode.o src/convert.o src/limiter.o src/cache.o src/shared_cache.o src/rerun.o \
	src/catalog.o src/rowscan.o src/genie_errors.o src/wait_event.o src/addr_policy.o
PGFILEDESC = "genie_fdw - foreign-data wrapper for Databricks Genie"

EXTENSION = genie_fdw
# every version's install script and every update script (not the tests)
DATA = $(wildcard sql/genie_fdw--*.sql)

# pg_regress tests; they need the emulator (test/run-tests.sh starts it)
REGRESS = options basic types errors hostile oauth scale full catalog explain \
	fidelity security planner feedback ddl_checks hints links upgrade
REGRESS_OPTS = --load-extension=plpgsql

PKG_CONFIG ?= pkg-config
PG_CPPFLAGS = -Isrc $(shell $(PKG_CONFIG) --cflags libcurl json-c)
SHLIB_LINK = $(shell $(PKG_CONFIG) --libs libcurl json-c)
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	-Wno-sign-compare -Wno-cast-function-type
ifdef WERROR
PG_CFLAGS += -Werror
endif
# make GENIE_DEBUG=1: poison released call/cursor/chunk memory and enable
# fault injection (the transaction stress test runs with it)
ifdef GENIE_DEBUG
PG_CPPFLAGS += -DGENIE_POISON -DGENIE_FAULT_INJECTION
endif

EXTRA_CLEAN = results regression.diffs regression.out

# LLVM bitcode needs clang of the server's version; the FDW gains nothing
# from JIT inlining.  (Set before PGXS, whose rules are chosen as it is read.)
override with_llvm := no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies unless PostgreSQL was configured with
# --enable-depend: every object depends on the project's headers.
$(OBJS): $(wildcard src/*.h)
