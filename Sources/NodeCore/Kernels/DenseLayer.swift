import CNodeKernels

/// The nonlinearity applied after a dense layer.
public enum Activation: Sendable, Equatable {
  /// No activation.
  case identity
  /// The hyperbolic tangent.
  case tanh
}

/// A dense (fully connected) layer `y = act(W x + b)` applied to a batch of rows,
/// with the weights in PyTorch's layout (`W` is `[out, in]`).
///
/// In `Float` on CPUs with AVX2 and FMA, the layer runs hand-vectorised kernels
/// fused with the activation (`nd_dense_*_f32` in CNodeKernels); elsewhere a
/// portable loop. Either way each row is computed by the same operations
/// wherever it sits in the batch, so outputs are bitwise independent of the
/// batch (which BLAS does not promise). The tanh of the vectorised kernels is
/// a rational approximation within a few ulp of the exact value.
public struct DenseLayer<Scalar: TensorScalar>: Sendable {
  /// The weights `[out, in]`.
  public let weight: Tensor<Scalar>
  /// The bias `[out]`.
  public let bias: Tensor<Scalar>
  /// The activation after the affine map.
  public let activation: Activation
  /// `Wᵀ`, `[in, out]`, the layout the wide kernel streams.
  let transposedWeight: [Scalar]

  /// Whether this CPU runs the vectorised float kernels.
  public static var isVectorized: Bool { DenseKernelSupport.available }

  /// Creates a layer.
  ///
  /// - Precondition: `weight` is `[out, in]` and `bias` is `[out]`.
  public init(weight: Tensor<Scalar>, bias: Tensor<Scalar>, activation: Activation) {
    precondition(weight.rank == 2, "dense weight must be [out, in], got \(weight.shape)")
    precondition(
      bias.shape == [weight.shape[0]], "dense bias \(bias.shape) does not match \(weight.shape)")
    self.weight = weight
    self.bias = bias
    self.activation = activation
    let (out, inputs) = (weight.shape[0], weight.shape[1])
    transposedWeight = (0..<(inputs * out)).map { weight.scalars[($0 % out) * inputs + $0 / out] }
  }

  /// The input width.
  public var inputWidth: Int { weight.shape[1] }
  /// The output width.
  public var outputWidth: Int { weight.shape[0] }

  /// Writes `act(W x_r + b)` for `rows` rows of `x` (row stride `ldx`) into `y` (row stride `ldy`).
  public func forward(
    _ x: UnsafePointer<Scalar>, rows: Int, ldx: Int, into y: UnsafeMutablePointer<Scalar>, ldy: Int
  ) {
    weight.withUnsafeBufferPointer { w in
      transposedWeight.withUnsafeBufferPointer { wt in
        bias.withUnsafeBufferPointer { b in
          DenseKernel.forward(
            x, rows: rows, inputs: inputWidth, ldx: ldx, weight: w.baseAddress!,
            transposedWeight: wt.baseAddress!, bias: b.baseAddress!, outputs: outputWidth,
            into: y, ldy: ldy, activation: activation)
        }
      }
    }
  }
}

/// Whether the CPU can run the CNodeKernels (checked once).
public enum DenseKernelSupport {
  /// Whether this CPU has AVX2 and FMA.
  public static let available = nd_kernels_available() != 0
  /// Whether this CPU also has AVX-512 F and VL (the lane convolution kernels).
  public static let avx512Available = available && nd_avx512_available() != 0
}
