/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kselftest harness's per-test wall-clock limit, raised for the kernel's own
 * iommufd_fail_nth, which scripts/check.sh builds unmodified with this header
 * force-included (-include) ahead of its sources.
 *
 * The harness kills any test that runs longer than TEST_TIMEOUT_DEFAULT (30 s), a
 * budget meant for real hardware. Under QEMU's TCG, on the debug kernel (KASAN,
 * lockdep and kmemleak saving a stack trace at each of some 400 allocations swept
 * per pass), basic_fail_nth.map_two_domains takes 20 to 40 s for the C iommufd and
 * ours alike, depending on the machine: the limit would make the sweep a timing
 * test, and a flaky one. What the test asserts (every fault point on the path
 * taken in turn, no splat, nothing left pinned) is unchanged.
 *
 * The harness header has an include guard, so its inclusion by the test's own
 * sources does nothing after this one, and the limit below is the one its TEST_F()
 * expands.
 */
#ifndef __IOMMUFD_RS_HARNESS_TIMEOUT_H
#define __IOMMUFD_RS_HARNESS_TIMEOUT_H

#include "kselftest_harness.h"

#undef TEST_TIMEOUT_DEFAULT
/* Seconds: over four times the longest case's time under TCG. */
#define TEST_TIMEOUT_DEFAULT 180

#endif
