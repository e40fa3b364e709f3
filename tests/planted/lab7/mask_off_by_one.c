/* Lab 7, planted: the causal mask off by one: query i also sees key i + m - n + 1. */
#define PLANT_MASK_PLUS_ONE
#include "online.h"
