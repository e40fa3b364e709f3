/* libem: the reference library of emlab. One header for everything public.
 *
 * Conventions: public names start with em_, macros with EM_, internal names with em__. Fallible
 * functions return EM_OK or a negative em_err (error.h); the library never prints and never
 * exits. Buffers are owned by the caller unless a function says otherwise.
 */
#ifndef EM_EM_H
#define EM_EM_H

#include "em/error.h"
#include "em/rng.h"
#include "em/memory.h"
#include "em/check.h"
#include "em/stats.h"
#include "em/load.h"
#include "em/cuda.h"
#include "em/peaks.h"
#include "em/stores.h"
#include "em/energy.h"
#include "em/bf16.h"
#include "em/version.h"
#include "em/lab.h"

/* One header per lab, named after it. */
#include "em/add.h"
#include "em/outer_add.h"
#include "em/relu_mul.h"
#include "em/relu_mul_backward.h"
#include "em/sum.h"
#include "em/softmax.h"
#include "em/attention.h"
#include "em/qlinear.h"

#endif /* EM_EM_H */
