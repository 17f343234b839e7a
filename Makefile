# SPDX-License-Identifier: GPL-2.0
#
# Standalone:  make [KDIR=<kernel tree>] [STATIC=1] [OUTPUT=<dir>]
#              make run | make check
# In a kernel tree (copied to tools/testing/selftests/uffd_collapse):
#              make -C tools/testing/selftests TARGETS=uffd_collapse run_tests
#
# The kselftest harness headers come from the kernel tree: ../ when in one,
# else $(KDIR), else Debian's $(KSFT_SRC_PKG) source tarball, fetched into the
# suite's cache by scripts/linux-source.sh (apt-get download, never installed,
# /usr/src never read) and extracted, never copied into this repository.

TEST_GEN_PROGS := uffd_collapse_test madv_collapse_race
TEST_PROGS_EXTENDED := run_tests.sh

LIB_SRCS := $(wildcard lib/*.c)
LOCAL_HDRS += $(wildcard lib/*.h)

CFLAGS += -Wall -Wextra -Werror -O2 -g -pthread -Ilib
LDLIBS += -pthread
ifeq ($(STATIC),1)
LDFLAGS += -static
endif

ifneq ($(wildcard ../lib.mk),)
# --- inside tools/testing/selftests/ --------------------------------------
CFLAGS += -isystem ..
include ../lib.mk
$(TEST_GEN_PROGS): $(LIB_SRCS)
else
# --- standalone ------------------------------------------------------------
DEPS := $(shell scripts/deps.sh)
OUTPUT ?= $(CURDIR)/build
KSFT_SRC_PKG ?= linux-source-6.12
ifneq ($(KDIR),)
KSFT_DIR := $(KDIR)/tools/testing/selftests
else
KSFT_DIR := $(CURDIR)/build/ksft
endif
KSFT_HDRS := $(KSFT_DIR)/kselftest_harness.h $(KSFT_DIR)/kselftest.h
CFLAGS += -isystem $(KSFT_DIR)
PROGS := $(addprefix $(OUTPUT)/,$(TEST_GEN_PROGS))

.PHONY: all run check clean deps bench check-bisect check-mutants postcopy \
	check-postcopy check-arm64 check-lava
all: $(PROGS)

$(OUTPUT)/%: %.c $(LIB_SRCS) $(LOCAL_HDRS) $(KSFT_HDRS)
	@mkdir -p $(OUTPUT)
	$(CC) $(CFLAGS) $(LDFLAGS) $(filter %.c,$^) $(LDLIBS) -o $@

# The script says on stderr why it failed; this says what else to do.
$(CURDIR)/build/ksft/kselftest_harness.h $(CURDIR)/build/ksft/kselftest.h &:
	@scripts/ksft-headers.sh $(KSFT_SRC_PKG) $(CURDIR)/build/ksft || { \
		echo "make: no kselftest headers from $(KSFT_SRC_PKG) (see the line above); make KDIR=<kernel tree> takes them from a kernel tree" >&2; \
		exit 1; }
ifneq ($(KDIR),)
$(KSFT_HDRS):
	@echo "make: no $@: KDIR=$(KDIR) must be a kernel source tree (with tools/testing/selftests)" >&2; exit 1
endif

run: all
	OUTPUT=$(OUTPUT) ./run_tests.sh

check: all postcopy
	OUTPUT=$(OUTPUT) tests/check.sh

# git bisect run vm/bisect.sh on a real kernel tree: not part of "make check"
# (a kernel build and a few VM boots, see README "Bisecting").
check-bisect:
	tests/check-bisect.sh

# Each mutation of vm/mutations built and booted with the whole suite: which
# test catches which broken clause (README "Mutation check"), with
# CONFIG_DEBUG_VM=n, then =y (--debug-vm both). Not part of "make check": a
# kernel build and a VM run per mutant. KSRC=<kernel tree> (default:
# Debian's linux-source-6.12); MUTANTS_ARGS="-m NAME -r 10 --debug-vm n ...".
check-mutants:
	vm/mutants.sh $(if $(KSRC),--ksrc $(KSRC)) --debug-vm both $(MUTANTS_ARGS)

# Races 1 and 2: iterations and window hits per second next to the rate of
# bare MADV_COLLAPSE calls (needs root: THP knobs, userfaultfd).
bench: all
	$(OUTPUT)/madv_collapse_race --bench

# QEMU postcopy live migration against MADV_COLLAPSE (README "A real
# client"): static programs for the guest and the host, not part of "all".
POSTCOPY_PROGS := $(addprefix $(OUTPUT)/postcopy/,guest_init collapse_helper qmp)
postcopy: $(POSTCOPY_PROGS)

$(OUTPUT)/postcopy/%: postcopy/%.c
	@mkdir -p $(@D)
	$(CC) -Wall -Wextra -Werror -O2 -static $< -o $@

# On the running kernel and nested on Debian 6.12 and 6.1 (minutes).
# The suite on Debian's arm64 6.1 and 6.12 kernels under qemu-system-aarch64
# (TCG), against tests/expectations (run_tests.sh -l on the host lists the
# tests each run must have). Not part of "make check": it takes long.
check-arm64: all
	tests/check.sh --arm64

# The suite under LAVA's dispatcher (lava-run) on Debian's 6.1 and 6.12,
# as a KernelCI lab runs it (also part of make check).
check-lava: all
	tests/check.sh --lava

check-postcopy: postcopy
	vm/postcopy.sh --bin $(OUTPUT)/postcopy --expect

clean:
	rm -rf $(OUTPUT)
endif

# liburing and libnuma are optional: without them the tests needing them SKIP.
have_lib = $(shell echo 'int main(void) { return 0; }' | \
	$(CC) -x c - $(LDFLAGS) -l$(1) -o /dev/null 2>/dev/null && echo y)
ifeq ($(call have_lib,uring),y)
CFLAGS += -DHAVE_LIBURING
LDLIBS += -luring
endif
ifeq ($(call have_lib,numa),y)
CFLAGS += -DHAVE_LIBNUMA
LDLIBS += -lnuma
endif
