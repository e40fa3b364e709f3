// Lab 7, planted (CUDA): no __syncthreads() between using a key tile and loading the next over it.
// The race often leaves the numbers right; compute-sanitizer racecheck reports it.
#define PLANT_NO_BARRIER_AFTER_USE
#include "online.cuh"
