/* What every harness/specs/<name>.c includes: the lab spec, and the short names its case table is
 * written in, one row per case:
 *
 *   CASE(part, name, (dims...), values, tracks)               a correctness case: one point
 *   PERF(part, name, (dims...), values, tracks, perf_points)  a speed case: one point for being
 *                                                             right, perf_points for its speed
 *
 * tracks is ALL, CPU or GPU; dims are in parentheses, in the order of the lab's dim_names; values
 * is the lab's value kind. Counts come from the arrays (EM_COUNT), never typed in.
 *
 * The student's functions a spec names are declared `#pragma weak` there: a lab binary links only
 * its own lab's student files, and a missing one becomes NULL, which the checker reports by name
 * instead of failing to link. (Short names, so only the spec files include this header.)
 */
#ifndef EM_HARNESS_SPECS_SPEC_H
#define EM_HARNESS_SPECS_SPEC_H

#include "../lab_spec.h"

#define ALL 0u
#define CPU EM_TRACK_BIT(EM_TRACK_CPU)
#define GPU EM_TRACK_BIT(EM_TRACK_CUDA)

#define EM__DIMS(...) {__VA_ARGS__}
#define CASE(part, name, dims, values, tracks) {part, name, EM__DIMS dims, values, tracks, 1, 0, 0}
#define PERF(part, name, dims, values, tracks, perf_points) {part, name, EM__DIMS dims, values, tracks, 1, perf_points, 0}

#endif /* EM_HARNESS_SPECS_SPEC_H */
