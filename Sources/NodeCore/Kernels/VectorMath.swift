import CNodeKernels
import RealModule

/// Transcendental functions over contiguous arrays: the AVX2 kernels of
/// CNodeKernels for `Float` when the CPU has them, the scalar functions otherwise.
public enum VectorMath {
  /// `y = tanh(x)` for `count` values (`y` may be `x`; `Float`: at most 5 ulp).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func tanh<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, count: Int
  ) {
    if usesFloatKernels(Scalar.self) {
      nd_tanh_f32(x.floats, y.floats, count)
    } else {
      for i in 0..<count { y[i] = Scalar.tanh(x[i]) }
    }
  }

  /// `tanh` of `count` values at `x`, in place.
  @inlinable
  public static func tanh<Scalar: TensorScalar>(_ x: UnsafeMutablePointer<Scalar>, count: Int) {
    tanh(UnsafePointer(x), into: x, count: count)
  }

  /// `y = 1 / (1 + e^{−x})`, the logistic sigmoid, for `count` values (`y`
  /// may be `x`; `Float`: absolute error below 2e-7).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func sigmoid<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, count: Int
  ) {
    if usesFloatKernels(Scalar.self) {
      nd_sigmoid_f32(x.floats, y.floats, count)
    } else {
      for i in 0..<count { y[i] = 1 / (1 + Scalar.exp(-x[i])) }
    }
  }

  /// The logistic sigmoid of `count` values at `x`, in place.
  @inlinable
  public static func sigmoid<Scalar: TensorScalar>(_ x: UnsafeMutablePointer<Scalar>, count: Int) {
    sigmoid(UnsafePointer(x), into: x, count: count)
  }
}
