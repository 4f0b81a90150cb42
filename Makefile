# bproc: top-level build. Each part has its own Makefile; this one wires them.
#
#   make deps      install every Debian package the build and tests need (root)
#   make           build everything with -Wall -Wextra -Werror
#   make check     deps + build + every test (host tests and virtual-cluster tests)
#   make run       boot a small virtual cluster with /bproc on its front end
#   make install   install under $(DESTDIR)$(PREFIX)
#   make lint      clang-format check of the C sources

PREFIX  ?= /usr/local
DESTDIR ?=
PYTHON  ?= /usr/bin/python3
PYTEST_ARGS ?=

# The module builds against the running kernel's headers when they exist,
# otherwise against the Debian cloud kernel's headers that `make deps` installs.
KDIR ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
	$(addprefix /lib/modules/,$(addsuffix /build,$(shell tools/kernel-version 2>/dev/null))))
export KDIR

USER_DIRS := common nodeagent bprocfs ckpt tests/victims
ALL_DIRS  := $(USER_DIRS) kmod

.PHONY: all deps check run install clean lint $(ALL_DIRS)

all: $(ALL_DIRS)

$(ALL_DIRS):
	@if [ -f $@/Makefile ]; then $(MAKE) -C $@; fi

nodeagent bprocfs ckpt: common

deps:
	tools/deps.sh

check: deps
	$(MAKE) all
	$(PYTHON) -m pytest -v $(PYTEST_ARGS) tests

run: all
	tools/vcluster --nodes 2

install: all
	@for d in $(ALL_DIRS); do \
		if [ -f $$d/Makefile ]; then $(MAKE) -C $$d install DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) || exit 1; fi; \
	done
	install -d $(DESTDIR)$(PREFIX)/bin
	@for t in bpstat bpsh; do \
		if [ -f tools/$$t ]; then install -m 0755 tools/$$t $(DESTDIR)$(PREFIX)/bin/$$t; fi; \
	done

lint:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	@for d in $(ALL_DIRS); do \
		if [ -f $$d/Makefile ]; then $(MAKE) -C $$d clean; fi; \
	done
	rm -rf build
