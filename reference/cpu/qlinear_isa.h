/* Lab 8, CPU: which instruction set the quantised linear layer's kernels use (internal to libem, its
 * tests and benchmarks).
 *
 * reference/cpu/qlinear.c picks its kernels when called, from what this CPU has (so one build runs
 * at full speed on the course's Zen 4 and correctly on any x86-64, whatever -march built it):
 *   EM__QLINEAR_AVX512_VNNI   forward vpdpbusd; quantise and backward AVX-512
 *   EM__QLINEAR_AVX512        (AVX-512 without VNNI, e.g. Skylake-SP) forward AVX2; quantise and
 *                             backward AVX-512
 *   EM__QLINEAR_AVX2          (AVX2 and FMA) everything AVX2
 *   EM__QLINEAR_PORTABLE      plain C everywhere (the only choice off x86)
 * Every level gives the same quantisation bits and the same int32 sums (tests/test_lab8_reference.c
 * forces each one this machine has and compares).
 */
#ifndef EM_REFERENCE_CPU_QLINEAR_ISA_H
#define EM_REFERENCE_CPU_QLINEAR_ISA_H

enum {
  EM__QLINEAR_AUTO = 0, /* the best this CPU has (the default) */
  EM__QLINEAR_PORTABLE = 1,
  EM__QLINEAR_AVX2 = 2,
  EM__QLINEAR_AVX512 = 3,
  EM__QLINEAR_AVX512_VNNI = 4,
};

/* Makes every em_qlinear_*_cpu call (and the layer object's) use level `isa` until the next call;
 * EM__QLINEAR_AUTO goes back to the best one. EM_ENOTSUP if this CPU lacks it, EM_EINVAL for a
 * value not above. Not thread-safe: for tests and benchmarks, before the calls it affects. */
int em__qlinear_force_isa(int isa);

/* The level the calls use now; the best this CPU has; a name for a level ("avx512-vnni"). */
int em__qlinear_isa(void);
int em__qlinear_isa_best(void);
const char *em__qlinear_isa_name(int isa);

#endif /* EM_REFERENCE_CPU_QLINEAR_ISA_H */
