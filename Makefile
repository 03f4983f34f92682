# SPDX-License-Identifier: GPL-2.0
#
# iommufd-rs: the Linux 7.2 iommufd (/dev/iommu) in Rust, as an overlay on a kernel tree.
#
#   make run     build, boot QEMU and show the module at work, ioctl by ioctl
#   make check   debug kernel (KASAN, lockdep, kmemleak...), every test suite, TAP;
#                the last line is "N passed, N failed"
#   make vm VM_CMD='...' [VM_FILES='...'] [VM_IOMMU=intel|amd] [VM_QEMU_ARGS='...']
#                run any command in the guest, with iommufd.ko loaded
#   make shell   an interactive shell in the same guest; exit powers it off
#   make bench   the Rust iommufd against the tree's C one: same tree, config, VM
#
# Variables: ARCH (x86_64, or arm64: QEMU's virt board with SMMUv3 and GICv3),
# KERNEL_SRC (a Linux 7.2 tree of your own; default: Debian's linux-source-7.2),
# PAGES (arm64: 4k or 64k), IMPL (check: rust, or c for the tree's own C iommufd),
# CACHE (build cache, default ~/.cache/iommufd-rs), JOBS.
# When the project is used as a kernel overlay, the kernel's own build reads Kbuild,
# not this file.

ARCH ?= x86_64
CACHE ?= $(HOME)/.cache/iommufd-rs
export ARCH CACHE KERNEL_SRC JOBS PAGES IMPL

S := scripts

.PHONY: all help setup build run check vm shell bench clean

all: help

help:
	@sed -n '3,18p' Makefile | sed 's/^# \{0,1\}//'

setup:
	@bash $(S)/host-setup.sh

build: setup
	@FLAVOUR=debug bash $(S)/build.sh >/dev/null

run: setup
	@bash $(S)/run.sh

check: setup
	@bash $(S)/check.sh

# VM_CMD, VM_FILES and VM_QEMU_ARGS reach vm.sh verbatim. make expands a variable given
# on its command line before it exports it (a `$s` or `$(cmd)` in VM_CMD would be gone),
# so these are not exported but passed from their unexpanded value, single-quoted.
unexport VM_CMD VM_FILES VM_QEMU_ARGS
verbatim = $(1)='$(subst ','\'',$(value $(1)))'
# The debug kernel's build folder, built if anything changed.
debug_build = out=$$(FLAVOUR=debug bash $(S)/build.sh | tail -n1)

vm: setup
	@$(debug_build) && \
		$(call verbatim,VM_CMD) $(call verbatim,VM_FILES) $(call verbatim,VM_QEMU_ARGS) \
		bash $(S)/vm.sh "$$out"

shell: setup
	@$(debug_build) && \
		$(call verbatim,VM_FILES) $(call verbatim,VM_QEMU_ARGS) VM_SHELL=1 \
		bash $(S)/vm.sh "$$out"

bench: setup
	@bash $(S)/bench.sh

clean:
	rm -rf $(CACHE)/build-*
