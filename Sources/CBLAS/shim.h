// OpenBLAS's CBLAS interface (Debian: libopenblas-dev; the header lives in
// /usr/include/x86_64-linux-gnu/openblas-pthread/, found through pkg-config).
#ifndef NODE_DIST_CBLAS_SHIM_H
#define NODE_DIST_CBLAS_SHIM_H
#include <cblas.h>
#endif
