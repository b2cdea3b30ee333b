import NodeCore

/// A 2-D convolution (PyTorch's `nn.Conv2d`): parameters `weight`
/// `[O, C, kh, kw]` then, unless built without one, `bias` `[O]`; each row is
/// one sample `[C, H, W]` in, `[O, H', W']` out.
///
/// Each sample is unfolded (im2col, into a buffer reused across calls) and
/// multiplied by the weight in one GEMM of its own — `[O, C·kh·kw] ×
/// [C·kh·kw, H'·W']` — so a sample's output never depends on its batch-mates.
/// Weight gradients are one GEMM per sample accumulated in sample order.
public final class Conv2d<Scalar: TensorScalar>: Layer {
  /// The shape of the convolution.
  public let geometry: ConvolutionGeometry
  /// Whether the layer adds a learned bias per output channel.
  public let hasBias: Bool
  private let columns = ScratchBuffer<Scalar>()
  private let columnCotangents = ScratchBuffer<Scalar>()

  /// A convolution of the given geometry, with a bias unless `bias` is false
  /// (ResNet blocks' convolutions, followed by a norm, have none).
  public init(_ geometry: ConvolutionGeometry, bias: Bool = true) {
    self.geometry = geometry
    hasBias = bias
  }

  public var inputSize: Int { geometry.inputSize }
  public var outputSize: Int { geometry.outputSize }
  public var parameterTensors: [ParameterTensor] {
    let g = geometry
    let initialization = ParameterInitialization.kaimingUniform(fanIn: g.patchSize)
    let weight = ParameterTensor(
      name: "weight", shape: [g.outputChannels, g.inputChannels, g.kernelHeight, g.kernelWidth],
      initialization: initialization)
    guard hasBias else { return [weight] }
    return [
      weight,
      ParameterTensor(name: "bias", shape: [g.outputChannels], initialization: initialization),
    ]
  }

  /// `y = W ⋆ x (+ b)` for every row.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func convolve(
    _ x: MatrixView<Scalar>, parameters: UnsafePointer<Scalar>, bias: Bool,
    into y: MutableMatrixView<Scalar>
  ) {
    let g = geometry
    let (k, pixels) = (g.patchSize, g.outputPixels)
    let cols = columns.reserve(k * pixels)
    let b = parameters + g.outputChannels * k
    for r in 0..<x.rows {
      g.unfold(x.row(r), into: cols)
      let out = y.row(r)
      for o in 0..<g.outputChannels {
        let value: Scalar = bias ? b[o] : 0
        for p in 0..<pixels { out[o * pixels + p] = value }
      }
      gemm(
        .none, .none, m: g.outputChannels, n: pixels, k: k, a: parameters, lda: k, b: cols,
        ldb: pixels, beta: 1, c: out, ldc: pixels)
    }
  }

  public func forward(
    _ x: MatrixView<Scalar>, times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
    into y: MutableMatrixView<Scalar>
  ) {
    convolve(x, parameters: parameters, bias: hasBias, into: y)
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func backward(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, outputCotangent dy: MatrixView<Scalar>,
    inputCotangent dx: MutableMatrixView<Scalar>?, timeCotangents: UnsafeMutablePointer<Scalar>?,
    parameterGradient: UnsafeMutablePointer<Scalar>?, rowWeights: UnsafePointer<Scalar>?
  ) {
    let g = geometry
    let (k, pixels, outputs) = (g.patchSize, g.outputPixels, g.outputChannels)
    let cols = columns.reserve(k * pixels)
    let colBars = columnCotangents.reserve(k * pixels)
    for r in 0..<x.rows {
      let upstream = dy.row(r)
      if let gradient = parameterGradient {
        // dW += w_r dY_r colsᵀ, db += w_r Σ_p dY_r.
        let w = rowWeights?[r] ?? 1
        g.unfold(x.row(r), into: cols)
        gemm(
          .none, .transposed, m: outputs, n: k, k: pixels, alpha: w, a: upstream, lda: pixels,
          b: cols, ldb: pixels, beta: 1, c: gradient, ldc: k)
        let biasGradient = gradient + outputs * k
        for o in 0..<outputs where hasBias {
          var sum: Scalar = 0
          for p in 0..<pixels { sum += upstream[o * pixels + p] }
          biasGradient[o] += w * sum
        }
      }
      if let dx {
        // dcols = Wᵀ dY, folded back onto the input.
        gemm(
          .transposed, .none, m: k, n: pixels, k: outputs, a: parameters, lda: k, b: upstream,
          ldb: pixels, c: colBars, ldc: pixels)
        let target = dx.row(r)
        target.update(repeating: 0, count: g.inputSize)
        g.fold(colBars, addingInto: target)
      }
    }
  }

  public func jvp(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, inputTangents: MatrixView<Scalar>, directions: Int,
    into outputTangents: MutableMatrixView<Scalar>
  ) {
    // Linear in x: each direction is the convolution of the tangent, without bias.
    for r in 0..<x.rows {
      convolve(
        MatrixView(base: inputTangents.row(r), rows: directions, columns: inputSize),
        parameters: parameters, bias: false,
        into: MutableMatrixView(base: outputTangents.row(r), rows: directions, columns: outputSize))
    }
  }
}
