// OpenMPI for Swift (Debian: libopenmpi-dev).
//
// OpenMPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE, ...)
// are macros over the addresses of globals, which Swift cannot import.
// These static inline functions return them; handle types arrive in Swift
// as OpaquePointer.
#ifndef NODE_DIST_CMPI_SHIM_H
#define NODE_DIST_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm ndmpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype ndmpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype ndmpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype ndmpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype ndmpi_byte(void) { return MPI_BYTE; }
static inline MPI_Op ndmpi_sum(void) { return MPI_SUM; }
static inline MPI_Op ndmpi_max(void) { return MPI_MAX; }
static inline void *ndmpi_in_place(void) { return MPI_IN_PLACE; }
static inline int ndmpi_success(void) { return MPI_SUCCESS; }
static inline int ndmpi_max_library_version_string(void) {
  return MPI_MAX_LIBRARY_VERSION_STRING;
}
static inline int ndmpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }

#endif
