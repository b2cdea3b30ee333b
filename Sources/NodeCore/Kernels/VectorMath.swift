import CNodeKernels
import RealModule

/// Transcendental functions over contiguous arrays: the AVX2 kernels of
/// CNodeKernels for `Float` when the CPU has them, the scalar functions otherwise.
public enum VectorMath {
  /// `tanh` of `count` values at `x`, in place (`Float`: at most 5 ulp).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func tanh<Scalar: TensorScalar>(_ x: UnsafeMutablePointer<Scalar>, count: Int) {
    if Scalar.self == Float.self && DenseKernelSupport.available {
      x.withMemoryRebound(to: Float.self, capacity: count) { nd_tanh_f32($0, count) }
    } else {
      for i in 0..<count { x[i] = Scalar.tanh(x[i]) }
    }
  }

  /// The logistic sigmoid `1 / (1 + e^{−x})` of `count` values at `x`, in
  /// place (`Float`: absolute error below 2e-7).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func sigmoid<Scalar: TensorScalar>(_ x: UnsafeMutablePointer<Scalar>, count: Int) {
    if Scalar.self == Float.self && DenseKernelSupport.available {
      x.withMemoryRebound(to: Float.self, capacity: count) { nd_sigmoid_f32($0, count) }
    } else {
      for i in 0..<count { x[i] = 1 / (1 + Scalar.exp(-x[i])) }
    }
  }
}
