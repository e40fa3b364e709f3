/* Compiled into each checker binary by the Makefile: which lab it was built for (0: every lab, as
 * in `make demo`) and whose code it checks, the student's (EM_SOLUTION=0) or the reference
 * solution standing in for it (EM_SOLUTION=1, for self-study and the demo). */
#include "lab_spec.h"

#ifndef EM_SOLUTION
#define EM_SOLUTION 0
#endif
#ifndef EM_LAB
#define EM_LAB 0
#endif
const int em_candidate_is_solution = EM_SOLUTION;
const int em_candidate_lab = EM_LAB;
