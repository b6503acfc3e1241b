# vfpmd: the two commands of the README, plus benchmarks.
#   make run              installs what is missing, builds release, runs the demo
#   make run ARGS="..."   runs `vfpmd ...` instead
#   make test             installs what the tests need and runs every test
#   make bench            runs the package-benchmark suite in Benchmarks/, then the driver's
#                         instruction count (scripts/datapath-cost.sh)
#   make datapath-cost    only the instruction count (callgrind; N="..." packets)
#   make vmtest           boots a QEMU guest (IOMMU, SR-IOV igb) and runs the real-kernel checks

SWIFT ?= swift
BIN := .build/release/vfpmd
ARGS ?=
N ?=

.PHONY: run test bench datapath-cost deps release vmtest

deps:
	scripts/install-deps.sh test

release:
	scripts/install-deps.sh run
	$(SWIFT) build -c release --product vfpmd

run: release
ifeq ($(strip $(ARGS)),)
	scripts/demo.sh
else
	$(BIN) $(ARGS)
endif

test: deps
	scripts/test.sh

bench: deps release
	cd Benchmarks && $(SWIFT) package benchmark
	scripts/datapath-cost.sh $(N)

datapath-cost:
	scripts/install-deps.sh test
	scripts/datapath-cost.sh $(N)

vmtest:
	Tests/VM/run.sh
