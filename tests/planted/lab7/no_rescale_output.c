/* Lab 7, planted: the running output is not rescaled when a key tile raises the maximum: the old terms keep weights relative to a maximum that no longer holds, while the sum is right. */
#define PLANT_NO_RESCALE_O
#include "online.h"
