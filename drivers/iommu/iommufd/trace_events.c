// SPDX-License-Identifier: GPL-2.0
/*
 * The iommufd tracepoints (include/trace/events/iommufd.h), defined here for the
 * module's Rust code: CREATE_RUST_TRACE_POINTS adds the rust_do_trace_*() functions
 * that trace.rs calls once an event's static key says it is enabled.
 */
#define CREATE_TRACE_POINTS
#define CREATE_RUST_TRACE_POINTS
#include <trace/events/iommufd.h>
