// Which OpenBLAS kernel family this CPU's features allow (see
// nd_blas_core_for_cpu in CNodeKernels.h).
#include "CNodeKernels.h"

const char *nd_blas_core_for_cpu(void) {
  __builtin_cpu_init();
  int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
               && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
  if (avx512 && __builtin_cpu_supports("avx512bf16")) return "Cooperlake";
  if (avx512) return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return 0;
}
