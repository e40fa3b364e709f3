/* Lab 8, planted: round_away (tests/planted/lab8/core.h says what it does). */
#define PLANT_ROUND_AWAY
#include "core.h"
