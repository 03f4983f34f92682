/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Constants of the tree that iommufd needs in Rust and that bindgen cannot
 * evaluate on every architecture: arm64 computes PMD_SHIFT with a function-like
 * macro, so HPAGE_SIZE reaches Rust only through the compiler. Each gets a name
 * of its own, since on x86_64 bindgen evaluates the macro itself.
 */
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
/* The size of a PMD-mapped (transparent) huge page: 2 MiB with 4 KiB pages. */
const unsigned long RUST_CONST_HELPER_THP_HPAGE_SIZE = HPAGE_SIZE;
#endif
