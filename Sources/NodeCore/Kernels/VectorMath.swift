import CNodeKernels
import RealModule

/// Activation functions over contiguous arrays: the AVX2 kernels of
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

  /// `y = x^e` for `count` positive finite values (`y` may be `x`). `Float`
  /// computes `2^(e log₂ x)` by polynomials, 8 at a time (relative error a few
  /// 1e-7 plus the rounding of `e log₂ x`; `x` below the smallest normal is
  /// taken as it); other scalars call `pow`. Meant for factors such as a step
  /// size's, where speed matters more than the last bits.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func positivePower<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, exponent e: Scalar, into y: UnsafeMutablePointer<Scalar>,
    count: Int
  ) {
    if usesFloatKernels(Scalar.self) {
      nd_positive_pow_f32(x.floats, Float(e), y.floats, count)
    } else {
      for i in 0..<count { y[i] = Scalar.pow(x[i], e) }
    }
  }

  /// `y = x > 0 ? x : 0` for `count` values (`y` may be `x`).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func relu<Scalar: TensorScalar>(
    _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, count: Int
  ) {
    if usesFloatKernels(Scalar.self) {
      nd_relu_f32(x.floats, y.floats, count)
    } else {
      for i in 0..<count { y[i] = x[i] > 0 ? x[i] : 0 }
    }
  }

  /// The ReLU's backward pass from its input: `dx = dy · (x > 0 ? 1 : 0)`
  /// for `count` values (`dx` may be `dy`).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public static func reluBackward<Scalar: TensorScalar>(
    input x: UnsafePointer<Scalar>, outputCotangent dy: UnsafePointer<Scalar>,
    into dx: UnsafeMutablePointer<Scalar>, count: Int
  ) {
    if usesFloatKernels(Scalar.self) {
      nd_relu_backward_f32(x.floats, dy.floats, dx.floats, count)
    } else {
      for i in 0..<count { dx[i] = dy[i] * (x[i] > 0 ? 1 : 0) }
    }
  }
}
