# Entry points; each target is a script in scripts/ that also runs on its own.
.PHONY: all help test demo dist viewer static-check cross-check clean-dist

all: help

help:
	@echo "make test          fmt, clippy, unit + integration + golden tests (scripts/test.sh)"
	@echo "make demo          record the default suite on the simulated runtime (scripts/demo.sh)"
	@echo "make dist          release binaries + SHA256SUMS in dist/ (scripts/dist.sh, see docs/BOARD.md)"
	@echo "make viewer        the browser viewer, one offline page: target/viewer/rkbench-viewer.html (scripts/viewer.sh)"
	@echo "make static-check  linkage gate of the x86_64 release builds (scripts/static-check.sh)"
	@echo "make cross-check   aarch64 build, glibc floor, record/report under qemu (scripts/cross-check.sh)"

test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh $(SCALE)

dist:
	bash scripts/dist.sh

viewer:
	bash scripts/viewer.sh

static-check:
	bash scripts/static-check.sh

cross-check:
	bash scripts/cross-check.sh

clean-dist:
	rm -rf dist target/h-dist target/h-dist-a64 target/h-dist-x86z target/h-dist-run
