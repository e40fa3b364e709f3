#include "em/error.h"

#include <stdarg.h>
#include <stdio.h>

/* One detail per thread: OpenMP workers and the harness may fail independently. */
static _Thread_local char detail[512];

const char *em_strerror(int err) {
  switch (err) {
#define EM__ERR_MSG(name, value, msg) \
  case (value):                       \
    return (msg);
    EM_ERRNO_MAP(EM__ERR_MSG)
#undef EM__ERR_MSG
  }
  return "unknown error";
}

const char *em_err_name(int err) {
  switch (err) {
#define EM__ERR_NAME(name, value, msg) \
  case (value):                        \
    return "EM_" #name;
    EM_ERRNO_MAP(EM__ERR_NAME)
#undef EM__ERR_NAME
  }
  return "EM_UNKNOWN";
}

const char *em_error_detail(void) { return detail; }

int em__fail(int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  return err;
}
