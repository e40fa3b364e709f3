/* Lab 8, planted: truncate (tests/planted/lab8/core.h says what it does). */
#define PLANT_TRUNCATE
#include "core.h"
