/* Lab 8, planted: clamp_128 (tests/planted/lab8/core.h says what it does). */
#define PLANT_CLAMP_128
#include "core.h"
