/* bfloat16 as libem stores it: the top 16 bits of a float32 (sign, the same 8 exponent bits, 7
 * mantissa bits), kept in a uint16_t so that C code, the checker and .npy files handle it without
 * a compiler extension. CUDA code reinterprets the same bits as __nv_bfloat16.
 *
 * bfloat16 keeps float32's range (no overflow where float32 has none) and 8 significant bits (7
 * stored): a rounding to nearest is off by at most 2^-8 relatively, 65536 times float32's 2^-24.
 * That is why the tensor cores read it (half the bytes, twice or more the products per cycle) and
 * why what they compute is summed in float32.
 */
#ifndef EM_BF16_H
#define EM_BF16_H

#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint16_t em_bf16;

/* Exact: a bfloat16 is a float32 with the low 16 mantissa bits zero. */
static inline float em_bf16_to_f32(em_bf16 h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* Round to nearest, ties to even (what __float2bfloat16 and the tensor cores' conversions do); a
 * NaN stays a (quiet) NaN instead of rounding into infinity. */
static inline em_bf16 em_f32_to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (em_bf16)((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (em_bf16)(u >> 16);
}

#ifdef __cplusplus
}
#endif
#endif /* EM_BF16_H */
