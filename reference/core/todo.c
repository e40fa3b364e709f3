#include "em/lab.h"

#include <stdatomic.h>
#include <stddef.h>

/* The first TODO wins: a skeleton's part (b) may run on many OpenMP threads at once. */
static atomic_int taken;
static const char *todo_file, *todo_what;
static int todo_line;

void em_todo(const char *file, int line, const char *what) {
  int expected = 0;
  if (atomic_compare_exchange_strong(&taken, &expected, 1)) {
    todo_file = file;
    todo_line = line;
    todo_what = what;
    atomic_store(&taken, 2); /* published: readers wait for 2 */
  }
}

void em_todo_reset(void) { atomic_store(&taken, 0); }

int em_todo_reached(const char **file, int *line, const char **what) {
  if (atomic_load(&taken) != 2) return 0;
  if (file) *file = todo_file;
  if (line) *line = todo_line;
  if (what) *what = todo_what;
  return 1;
}
