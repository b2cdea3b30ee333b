/// Reinterpretations of a generic scalar pointer as `Float` for the
/// CNodeKernels calls, made only after checking `Scalar.self == Float.self`.
extension UnsafePointer {
  /// The same address as `Float` memory.
  var floats: UnsafePointer<Float> { UnsafeRawPointer(self).assumingMemoryBound(to: Float.self) }
}

extension UnsafeMutablePointer {
  /// The same address as mutable `Float` memory.
  var floats: UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer(self).assumingMemoryBound(to: Float.self)
  }
}

/// Whether the CNodeKernels' `Float` kernels run for `Scalar` on this CPU.
@inline(__always)
func usesFloatKernels<Scalar>(_: Scalar.Type) -> Bool {
  Scalar.self == Float.self && DenseKernelSupport.available
}
