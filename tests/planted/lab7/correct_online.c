/* Lab 7, planted: none: the shared online attention as it is, a plain correct file (the tests check it passes, so the mistakes above are the only difference). */
#include "online.h"
