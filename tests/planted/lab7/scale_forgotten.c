/* Lab 7, planted: the scale 1/sqrt(d) forgotten: every score sqrt(d) times too large, the weights far too peaked. */
#define PLANT_SCALE_FORGOTTEN
#include "online.h"
