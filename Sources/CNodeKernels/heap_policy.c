// glibc's heap thresholds for a long-running training process (see
// nd_retain_freed_heap in CNodeKernels.h).
#include "CNodeKernels.h"

#include <stdlib.h>  // defines __GLIBC__ under glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int nd_retain_freed_heap(long largest_heap_block, long trim_threshold) {
#if defined(__GLIBC__)
  return mallopt(M_MMAP_THRESHOLD, (int)largest_heap_block) == 1 &&
         mallopt(M_TRIM_THRESHOLD, (int)trim_threshold) == 1;
#else
  (void)largest_heap_block;
  (void)trim_threshold;
  return 0;
#endif
}
