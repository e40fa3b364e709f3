/* Lab 8, planted: dequantise_first (tests/planted/lab8/core.h says what it does). */
#define PLANT_DEQUANT_FIRST
#include "core.h"
