/* Lab 7, planted: the last, partial key tile dropped: right when the keys a query sees are a multiple of 16. */
#define PLANT_DROP_LAST_TILE
#include "online.h"
