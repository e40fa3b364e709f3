/* Lab 8, planted: bias_twice (tests/planted/lab8/core.h says what it does). */
#define PLANT_BIAS_TWICE
#include "core.h"
