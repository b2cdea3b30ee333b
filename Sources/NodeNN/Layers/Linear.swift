import NodeCore

/// A fully connected layer `y = W x + b` (PyTorch's `nn.Linear`): parameters
/// `weight` `[out, in]` then `bias` `[out]`.
///
/// Forward, input cotangents and tangents go through ``DenseKernel`` (bitwise
/// independent of the batch); the weight gradient is one BLAS GEMM over the rows.
public final class Linear<Scalar: TensorScalar>: TangentDifferentiableLayer {
  public let inputSize: Int
  public let outputSize: Int
  private let transposed = TransposedWeight<Scalar>()
  private let zeros: ScratchBuffer<Scalar>
  private let weighted = ScratchBuffer<Scalar>()

  /// A layer from `inputs` to `outputs` features.
  public init(inputs: Int, outputs: Int) {
    precondition(
      inputs > 0 && outputs > 0, "Linear needs positive sizes, got \(inputs) → \(outputs)")
    inputSize = inputs
    outputSize = outputs
    zeros = ScratchBuffer(capacity: Swift.max(inputs, outputs))
  }

  public var parameterGradientNeedsOnlyOperands: Bool { true }

  public var parameterTensors: [ParameterTensor] {
    let initialization = ParameterInitialization.kaimingUniform(fanIn: inputSize)
    return [
      ParameterTensor(
        name: "weight", shape: [outputSize, inputSize], initialization: initialization),
      ParameterTensor(name: "bias", shape: [outputSize], initialization: initialization),
    ]
  }

  /// `Wᵀ` `[in, out]` (see ``TransposedWeight``).
  private func transposeWeight(_ w: UnsafePointer<Scalar>) -> UnsafeMutablePointer<Scalar> {
    transposed.of(w, rows: outputSize, columns: inputSize)
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func forward(
    _ x: MatrixView<Scalar>, times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
    into y: MutableMatrixView<Scalar>
  ) {
    affine(
      x.base, rows: x.rows, ldx: x.rowStride, weight: parameters,
      transposedWeight: preparedTranspose(parameters), bias: parameters + inputSize * outputSize,
      into: y.base, ldy: y.rowStride)
  }

  /// `Wᵀ` when the wide kernel reads it (`out ≥ 8`), else nil.
  func preparedTranspose(_ w: UnsafePointer<Scalar>) -> UnsafePointer<Scalar>? {
    outputSize >= 8 ? UnsafePointer(transposeWeight(w)) : nil
  }

  /// `W x_r + bias` for every row.
  func affine(
    _ x: UnsafePointer<Scalar>, rows: Int, ldx: Int, weight w: UnsafePointer<Scalar>,
    transposedWeight: UnsafePointer<Scalar>?, bias: UnsafePointer<Scalar>,
    into y: UnsafeMutablePointer<Scalar>, ldy: Int
  ) {
    DenseKernel.forward(
      x, rows: rows, inputs: inputSize, ldx: ldx, weight: w, transposedWeight: transposedWeight,
      bias: bias, outputs: outputSize, into: y, ldy: ldy, activation: .identity)
  }

  /// `zeros` of the larger width, for bias-free products.
  var zeroBias: UnsafePointer<Scalar> { UnsafePointer(zeros.base) }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func backward(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, outputCotangent dy: MatrixView<Scalar>,
    inputCotangent dx: MutableMatrixView<Scalar>?, timeCotangents: UnsafeMutablePointer<Scalar>?,
    parameterGradient: UnsafeMutablePointer<Scalar>?, rowWeights: UnsafePointer<Scalar>?
  ) {
    accumulateGradients(
      x, outputCotangent: dy, parameters: parameters, inputCotangent: dx,
      parameterGradient: parameterGradient, rowWeights: rowWeights)
  }

  /// The affine map's part of the backward pass: `dx = Wᵀ dy`, `dW += Σ w_r dy_r x_rᵀ`,
  /// `db += Σ w_r dy_r`.
  func accumulateGradients(
    _ x: MatrixView<Scalar>, outputCotangent dy: MatrixView<Scalar>,
    parameters: UnsafePointer<Scalar>, inputCotangent dx: MutableMatrixView<Scalar>?,
    parameterGradient: UnsafeMutablePointer<Scalar>?, rowWeights: UnsafePointer<Scalar>?
  ) {
    let n = x.rows
    if let gradient = parameterGradient {
      // dW += Σ_r w_r dy_r x_rᵀ (one GEMM), db += Σ_r w_r dy_r.
      var upstream = dy.base
      var ld = dy.rowStride
      if let rowWeights {
        let scaled = weighted.reserve(n * outputSize)
        // Row pointers and wrapping index arithmetic: the element loops vectorise.
        for r in 0..<n {
          let (source, target, w) = (dy.row(r), scaled + r &* outputSize, rowWeights[r])
          for o in 0..<outputSize { target[o] = w * source[o] }
        }
        upstream = UnsafePointer(scaled)
        ld = outputSize
      }
      gemm(
        .transposed, .none, m: outputSize, n: inputSize, k: n, a: upstream, lda: ld, b: x.base,
        ldb: x.rowStride, beta: 1, c: gradient, ldc: inputSize)
      let biasGradient = gradient + inputSize * outputSize
      for r in 0..<n {
        let source = upstream + r &* ld
        for o in 0..<outputSize { biasGradient[o] += source[o] }
      }
    }
    if let dx {
      // dx_r = Wᵀ dy_r: a dense layer whose weight is Wᵀ ([in, out]) and whose transpose is W.
      let t = transposeWeight(parameters)
      DenseKernel.forward(
        dy.base, rows: n, inputs: outputSize, ldx: dy.rowStride, weight: t,
        transposedWeight: parameters, bias: zeros.base, outputs: inputSize, into: dx.base,
        ldy: dx.rowStride, activation: .identity)
    }
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func jvp(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, inputTangents: MatrixView<Scalar>, directions: Int,
    into outputTangents: MutableMatrixView<Scalar>
  ) {
    // dy = W dx per direction: direction k of row r is row r·K + k of a
    // [rows·K, in] matrix when each row's tangents are contiguous.
    // One product over all rows·K tangents keeps the kernel's full row tiles
    // (K = 2 rows per call left its multiply-adds waiting on each other).
    let t = preparedTranspose(parameters)
    if inputTangents.rowStride == directions * inputSize
      && outputTangents.rowStride == directions * outputSize
    {
      affine(
        inputTangents.base, rows: x.rows * directions, ldx: inputSize, weight: parameters,
        transposedWeight: t, bias: zeroBias, into: outputTangents.base, ldy: outputSize)
      return
    }
    for r in 0..<x.rows {
      affine(
        inputTangents.row(r), rows: directions, ldx: inputSize, weight: parameters,
        transposedWeight: t, bias: zeroBias, into: outputTangents.row(r), ldy: outputSize)
    }
  }

  /// `ẏ_k = W ẋ_k`: `x̄ = Wᵀ ȳ`, `ẋ̄_k = Wᵀ ẏ̄_k`, `W̄ += Σ_r w_r (ȳ_r x_rᵀ + Σ_k ẏ̄_rk ẋ_rkᵀ)`, `b̄ += Σ_r w_r ȳ_r`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func jvpBackward(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, inputTangents: MatrixView<Scalar>,
    outputTangents: MatrixView<Scalar>, directions: Int, outputCotangent dy: MatrixView<Scalar>,
    tangentCotangent dTangents: MatrixView<Scalar>, inputCotangent dx: MutableMatrixView<Scalar>?,
    inputTangentCotangent dInputTangents: MutableMatrixView<Scalar>?,
    timeCotangents: UnsafeMutablePointer<Scalar>?, parameterGradient: UnsafeMutablePointer<Scalar>?,
    rowWeights: UnsafePointer<Scalar>?
  ) {
    accumulateGradients(
      x, outputCotangent: dy, parameters: parameters, inputCotangent: dx,
      parameterGradient: parameterGradient, rowWeights: rowWeights)
    accumulateTangentGradients(
      inputTangents, rows: x.rows, directions: directions, tangentCotangent: dTangents,
      parameters: parameters, inputTangentCotangent: dInputTangents,
      parameterGradient: parameterGradient, rowWeights: rowWeights)
  }

  /// The tangents' part: `ẋ̄_k = Wᵀ ẏ̄_k` and `W̄ += Σ_r w_r Σ_k ẏ̄_rk ẋ_rkᵀ` (no bias term),
  /// treating the `rows × K` tangents as rows of one matrix.
  func accumulateTangentGradients(
    _ inputTangents: MatrixView<Scalar>, rows: Int, directions: Int,
    tangentCotangent dTangents: MatrixView<Scalar>, parameters: UnsafePointer<Scalar>,
    inputTangentCotangent dInputTangents: MutableMatrixView<Scalar>?,
    parameterGradient: UnsafeMutablePointer<Scalar>?, rowWeights: UnsafePointer<Scalar>?
  ) {
    let t = transposeWeight(parameters)
    let contiguous =
      inputTangents.rowStride == directions * inputSize
      && dTangents.rowStride == directions * outputSize
    if let gradient = parameterGradient, contiguous {
      // One GEMM over the rows·K tangents, the bars scaled by their row's weight.
      var bars = dTangents.base
      if let rowWeights {
        let scaled = weighted.reserve(rows * directions * outputSize)
        let width = directions * outputSize
        for r in 0..<rows {
          let (source, target, w) = (dTangents.row(r), scaled + r &* width, rowWeights[r])
          for i in 0..<width { target[i] = w * source[i] }
        }
        bars = UnsafePointer(scaled)
      }
      gemm(
        .transposed, .none, m: outputSize, n: inputSize, k: rows * directions, a: bars,
        lda: outputSize, b: inputTangents.base, ldb: inputSize, beta: 1, c: gradient,
        ldc: inputSize)
    }
    if contiguous && (dInputTangents.map { $0.rowStride == directions * inputSize } ?? true) {
      // ẋ̄ = Wᵀ ẏ̄ for all rows·K tangents at once (full row tiles, as in `jvp`).
      if let dInputTangents {
        DenseKernel.forward(
          dTangents.base, rows: rows * directions, inputs: outputSize, ldx: outputSize, weight: t,
          transposedWeight: parameters, bias: zeroBias, outputs: inputSize,
          into: dInputTangents.base, ldy: inputSize, activation: .identity)
      }
      return
    }
    for r in 0..<rows {
      let tangents = MatrixView(base: inputTangents.row(r), rows: directions, columns: inputSize)
      let bars = MatrixView(base: dTangents.row(r), rows: directions, columns: outputSize)
      if let gradient = parameterGradient, !contiguous {
        let w = rowWeights?[r] ?? 1
        gemm(
          .transposed, .none, m: outputSize, n: inputSize, k: directions, alpha: w, a: bars.base,
          lda: outputSize, b: tangents.base, ldb: inputSize, beta: 1, c: gradient, ldc: inputSize)
      }
      if let dInputTangents {
        DenseKernel.forward(
          bars.base, rows: directions, inputs: outputSize, ldx: outputSize, weight: t,
          transposedWeight: parameters, bias: zeroBias, outputs: inputSize,
          into: dInputTangents.row(r), ldy: inputSize, activation: .identity)
      }
    }
  }
}
