/* Lab 7, planted: the running sum is not rescaled when the maximum grows: the output is divided by a sum of mixed scales. */
#define PLANT_NO_RESCALE_SUM
#include "online.h"
