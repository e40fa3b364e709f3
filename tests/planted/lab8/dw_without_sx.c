/* Lab 8, planted: dw_without_sx (tests/planted/lab8/core.h says what it does). */
#define PLANT_DW_NO_SX
#include "core.h"
