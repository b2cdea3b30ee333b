import CNodeKernels

/// A chain of dense layers applied to a batch, `y = L_n(… L_1(x))`: the
/// multilayer perceptron at the heart of small vector fields.
///
/// In `Float` on CPUs with AVX2 and FMA the whole chain runs in one kernel
/// call, six rows at a time, so the intermediate activations never leave the
/// L1 cache; elsewhere each layer runs ``DenseLayer/forward(_:rows:ldx:into:ldy:)``
/// in turn. Rows are computed independently of each other either way.
public final class DenseChain<Scalar: TensorScalar> {
  /// The layers, first to last.
  public let layers: [DenseLayer<Scalar>]
  private let intermediates: [ScratchBuffer<Scalar>]
  /// For the fused float kernel: every layer's weights, transposed weights and
  /// bias copied into memory this chain owns, the C descriptions pointing into
  /// it, and the kernel's tile scratch. Built once, so a call allocates nothing.
  private let kernelWeights = ScratchBuffer<Float>()
  private let kernelLayers = ScratchBuffer<nd_dense_layer_f32>()
  private let tileScratch: ScratchBuffer<Float>

  /// Creates the chain.
  ///
  /// - Precondition: each layer's input width is the previous layer's output width.
  public init(_ layers: [DenseLayer<Scalar>]) {
    precondition(!layers.isEmpty, "a dense chain needs at least one layer")
    for (previous, next) in zip(layers, layers.dropFirst()) {
      precondition(
        previous.outputWidth == next.inputWidth,
        "layer widths do not chain: \(previous.outputWidth) then \(next.inputWidth)")
    }
    self.layers = layers
    intermediates = layers.dropLast().map { _ in ScratchBuffer<Scalar>() }
    tileScratch = ScratchBuffer(capacity: 2 * 6 * (layers.map(\.outputWidth).max() ?? 1))
    if Scalar.self == Float.self { packKernelLayers() }
  }

  private func packKernelLayers() {
    let total = layers.reduce(0) { $0 + 2 * $1.weight.count + $1.bias.count }
    var cursor = kernelWeights.reserve(total)
    let descriptions = kernelLayers.reserve(layers.count)
    func append(_ values: [Scalar]) -> UnsafePointer<Float> {
      let start = cursor
      for (i, value) in values.enumerated() { start[i] = Float(value) }
      cursor += values.count
      return UnsafePointer(start)
    }
    for (i, layer) in layers.enumerated() {
      descriptions[i] = nd_dense_layer_f32(
        in: layer.inputWidth, out: layer.outputWidth,
        wt: append(layer.transposedWeight), w: append(layer.weight.scalars),
        bias: append(layer.bias.scalars),
        activation: layer.activation == .tanh ? ND_ACTIVATION_TANH : ND_ACTIVATION_IDENTITY)
    }
  }

  /// The input width.
  public var inputWidth: Int { layers[0].inputWidth }
  /// The output width.
  public var outputWidth: Int { layers[layers.count - 1].outputWidth }

  /// Writes the chain's output for `rows` rows of `x` (row stride `ldx`) into
  /// `y` (row stride `ldy`).
  public func forward(
    _ x: UnsafePointer<Scalar>, rows: Int, ldx: Int, into y: UnsafeMutablePointer<Scalar>, ldy: Int
  ) {
    if rows == 0 { return }
    if Scalar.self == Float.self && DenseLayer<Scalar>.isVectorized {
      forwardFused(x, rows: rows, ldx: ldx, into: y, ldy: ldy)
      return
    }
    var input = x
    var inputStride = ldx
    for (i, layer) in layers.enumerated() {
      let isLast = i == layers.count - 1
      let output = isLast ? y : intermediates[i].reserve(rows * layer.outputWidth)
      let outputStride = isLast ? ldy : layer.outputWidth
      layer.forward(input, rows: rows, ldx: inputStride, into: output, ldy: outputStride)
      input = UnsafePointer(output)
      inputStride = outputStride
    }
  }

  private func forwardFused(
    _ x: UnsafePointer<Scalar>, rows: Int, ldx: Int, into y: UnsafeMutablePointer<Scalar>, ldy: Int
  ) {
    nd_mlp_f32(
      UnsafeRawPointer(x).assumingMemoryBound(to: Float.self), rows, ldx,
      kernelLayers.base, layers.count,
      UnsafeMutableRawPointer(y).assumingMemoryBound(to: Float.self), ldy, tileScratch.base)
  }
}
