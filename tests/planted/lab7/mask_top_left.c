/* Lab 7, planted: the causal mask anchored at the top left (j <= i): right when n = m, wrong when n != m. */
#define PLANT_MASK_TOP_LEFT
#include "online.h"
