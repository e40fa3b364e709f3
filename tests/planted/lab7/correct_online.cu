// Lab 7, planted (CUDA): the shared kernel with no mistake switched on: passes every case.
#include "online.cuh"
