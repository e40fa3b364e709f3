// Lab 7, planted (CUDA): the causal mask anchored at the top left (j <= i).
#define PLANT_MASK_TOP_LEFT
#include "online.cuh"
