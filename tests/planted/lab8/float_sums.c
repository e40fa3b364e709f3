/* Lab 8, planted: float_sums (tests/planted/lab8/core.h says what it does). */
#define PLANT_FLOAT_ACC
#include "core.h"
