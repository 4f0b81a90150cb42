# bproc: top-level build. Each part has its own Makefile; this one wires them.
#
#   make deps      install every Debian package the build and tests need (root)
#   make           build everything with -Wall -Wextra -Werror
#   make check     deps + build + every test (host tests and virtual-cluster tests)
#   make run       boot a small virtual cluster with /bproc on its front end
#   make install   install under $(DESTDIR)$(PREFIX): programs, libbproc,
#                  manuals, example config, systemd units, the module
#   make install-user  the same without the module (what the packages hold)
#   make deb       the Debian packages bproc and bproc-dkms, into build/deb
#   make fuzz      the fuzz targets (fuzz/, clang); bench/fuzz runs them
#   make lint      clang-format check of the C sources

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
STATEDIR ?= /var/lib/bproc
PYTHON  ?= /usr/bin/python3
PYTEST_ARGS ?=

# The module builds against the running kernel's headers when they exist,
# otherwise against the Debian cloud kernel's headers that `make deps` installs.
KDIR ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
	$(addprefix /lib/modules/,$(addsuffix /build,$(shell tools/kernel-version 2>/dev/null))))
export KDIR

PROG_DIRS := common nodeagent bprocfs ckpt
LIB_DIRS  := lib
USER_DIRS := $(PROG_DIRS) $(LIB_DIRS) tests/victims
ALL_DIRS  := $(USER_DIRS) kmod
MAN_PAGES := $(wildcard man/*.[1-8])
UNITS     := $(patsubst %.in,%,$(wildcard systemd/*.in))

.PHONY: all user deps check run install install-user install-lib deb fuzz \
	clean clean-user lint $(ALL_DIRS)

all: $(ALL_DIRS)

$(ALL_DIRS):
	@if [ -f $@/Makefile ]; then $(MAKE) -C $@; fi

nodeagent bprocfs ckpt: common
tests/victims: lib

# The programs and libbproc, without the module and the test victims.
user: $(PROG_DIRS) $(LIB_DIRS) $(UNITS)

systemd/%: systemd/%.in
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@

fuzz:
	$(MAKE) -C fuzz

deps:
	tools/deps.sh

check: deps
	$(MAKE) all fuzz
	$(PYTHON) -m pytest -v $(PYTEST_ARGS) tests

run: all
	tools/vcluster --nodes 2

install: install-user
	$(MAKE) -C kmod install DESTDIR=$(DESTDIR) PREFIX=$(PREFIX)

# Programs, manuals, the example config (never over an existing one), the
# systemd units and the state directory.
install-user: user
	@for d in $(PROG_DIRS); do \
		$(MAKE) -C $$d install DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) || exit 1; \
	done
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR)
	install -m 0755 tools/bpstat tools/bpsh $(DESTDIR)$(BINDIR)/
	install -m 0755 tools/bproc-keygen $(DESTDIR)$(SBINDIR)/
	@for m in $(MAN_PAGES); do \
		s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; \
	done
	install -d $(DESTDIR)$(SYSCONFDIR)/bproc $(DESTDIR)$(STATEDIR)
	[ -e $(DESTDIR)$(SYSCONFDIR)/bproc/config ] || \
		install -m 0644 etc/config $(DESTDIR)$(SYSCONFDIR)/bproc/config
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0644 $(UNITS) $(DESTDIR)$(SYSTEMDUNITDIR)/
	$(MAKE) install-lib

# libbproc (public header, shared and static library, pkg-config file),
# installed with the programs: the libraries in LIBDIR, the header in
# $(PREFIX)/include/sys.
LIBDIR ?= $(PREFIX)/lib
install-lib: lib
	$(MAKE) -C lib install DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) LIBDIR=$(LIBDIR)

# dpkg-buildpackage needs a clean tree of its own: build from a copy of
# what git has (committed or not), so the work tree's objects stay.
deb:
	tools/make-deb build/deb

lint:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

# What debian/rules cleans: the programs, not the module (DKMS's) nor
# the tests.
clean-user:
	@for d in $(PROG_DIRS) $(LIB_DIRS); do $(MAKE) -C $$d clean; done
	rm -f $(UNITS)

clean:
	@for d in $(ALL_DIRS); do \
		if [ -f $$d/Makefile ]; then $(MAKE) -C $$d clean; fi; \
	done
	rm -f $(UNITS)
	$(MAKE) -C fuzz clean
	rm -rf build
