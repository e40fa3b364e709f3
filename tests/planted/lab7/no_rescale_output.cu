// Lab 7, planted (CUDA): the running output not rescaled when a key tile raises the maximum.
#define PLANT_NO_RESCALE_O
#include "online.cuh"
