/* Lab 8, planted: transposed_w (tests/planted/lab8/core.h says what it does). */
#define PLANT_TRANSPOSED_W
#include "core.h"
