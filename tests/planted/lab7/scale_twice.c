/* Lab 7, planted: the scale applied twice (1/d): the weights too flat. */
#define PLANT_SCALE_TWICE
#include "online.h"
