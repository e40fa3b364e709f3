#ifndef EM_VERSION_H
#define EM_VERSION_H
/* The harness version recorded in results.json and submission manifests. */
#define EM_VERSION "0.1.0"
#define EM_RESULTS_SCHEMA "em-results/1"
#endif
