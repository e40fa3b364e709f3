/* Lab 8, planted: int16_sums (tests/planted/lab8/core.h says what it does). */
#define PLANT_INT16_ACC
#include "core.h"
