/* Lab 8, planted: per_tensor_scale (tests/planted/lab8/core.h says what it does). */
#define PLANT_PER_TENSOR
#include "core.h"
