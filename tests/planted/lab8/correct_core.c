/* Lab 8, planted: correct_core - none: the shared core as it is, which must pass every case (tests/planted/lab8/core.h says what it does). */
#include "core.h"
