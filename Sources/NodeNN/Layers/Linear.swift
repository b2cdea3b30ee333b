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
    if let gradient = parameterGradient {
      let upstream = weightedRows(dy, by: rowWeights)
      addWeightGradient(x, weightedCotangent: upstream, into: gradient)
      let biasGradient = gradient + inputSize * outputSize
      for r in 0..<x.rows {
        let source = upstream.row(r)
        for o in 0..<outputSize { biasGradient[o] += source[o] }
      }
    }
    if let dx { inputCotangent(dy, parameters: parameters, into: dx) }
  }

  /// `w_r dy_r` for every row (in scratch), or `dy` itself without weights.
  /// Row pointers and wrapping index arithmetic: the element loops vectorise.
  private func weightedRows(_ dy: MatrixView<Scalar>, by rowWeights: UnsafePointer<Scalar>?)
    -> MatrixView<Scalar>
  {
    guard let rowWeights else { return dy }
    let (rows, width) = (dy.rows, dy.columns)
    let scaled = weighted.reserve(rows * width)
    for r in 0..<rows {
      let (source, target, w) = (dy.row(r), scaled + r &* width, rowWeights[r])
      for i in 0..<width { target[i] = w * source[i] }
    }
    return MatrixView(base: scaled, rows: rows, columns: width)
  }

  /// `dW += Σ_r u_r x_rᵀ` over the rows of `x` (`[n, in]`) and of the cotangents
  /// `u` (`[n, out]`, each already weighted by its row's weight), in one pass.
  func addWeightGradient(
    _ x: MatrixView<Scalar>, weightedCotangent u: MatrixView<Scalar>,
    into gradient: UnsafeMutablePointer<Scalar>
  ) {
    DenseKernel.addWeightGradient(
      cotangents: u.base, ldu: u.rowStride, inputs: x.base, ldx: x.rowStride, rows: x.rows,
      outputs: outputSize, inputCount: inputSize, into: gradient, ldg: inputSize)
  }

  /// `dx_r = Wᵀ dy_r`: a dense layer whose weight is `Wᵀ` (`[in, out]`) and whose transpose is `W`.
  func inputCotangent(
    _ dy: MatrixView<Scalar>, parameters: UnsafePointer<Scalar>,
    into dx: MutableMatrixView<Scalar>
  ) {
    DenseKernel.forward(
      dy.base, rows: dy.rows, inputs: outputSize, ldx: dy.rowStride,
      weight: transposeWeight(parameters), transposedWeight: parameters, bias: zeros.base,
      outputs: inputSize, into: dx.base, ldy: dx.rowStride, activation: .identity)
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
    let contiguous =
      inputTangents.rowStride == directions * inputSize
      && dTangents.rowStride == directions * outputSize
    if let gradient = parameterGradient, contiguous {
      // One GEMM over the rows·K tangents, the bars scaled by their row's weight.
      addTangentWeightGradient(
        inputTangents, rows: rows, directions: directions,
        weightedTangentCotangent: weightedRows(
          MatrixView(base: dTangents.base, rows: rows, columns: directions * outputSize),
          by: rowWeights),
        into: gradient)
    }
    if !contiguous, let gradient = parameterGradient {
      for r in 0..<rows {
        gemm(
          .transposed, .none, m: outputSize, n: inputSize, k: directions,
          alpha: rowWeights?[r] ?? 1, a: dTangents.row(r), lda: outputSize,
          b: inputTangents.row(r), ldb: inputSize, beta: 1, c: gradient, ldc: inputSize)
      }
    }
    tangentInputCotangents(
      dTangents, rows: rows, directions: directions, parameters: parameters,
      into: dInputTangents)
  }

  /// `W̄ += Σ_r Σ_k ū_rk ẋ_rkᵀ` over tangents stored contiguously (`[rows, K·in]`) and
  /// their already weighted cotangents (`[rows, K·out]`): one product over the rows·K tangents.
  func addTangentWeightGradient(
    _ inputTangents: MatrixView<Scalar>, rows: Int, directions: Int,
    weightedTangentCotangent u: MatrixView<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
  ) {
    precondition(
      inputTangents.rowStride == directions * inputSize && u.rowStride == directions * outputSize)
    DenseKernel.addWeightGradient(
      cotangents: u.base, ldu: outputSize, inputs: inputTangents.base, ldx: inputSize,
      rows: rows * directions, outputs: outputSize, inputCount: inputSize, into: gradient,
      ldg: inputSize)
  }

  /// `ẋ̄_k = Wᵀ ẏ̄_k` for every row's `K` tangents, or nothing when `dInputTangents` is nil.
  func tangentInputCotangents(
    _ dTangents: MatrixView<Scalar>, rows: Int, directions: Int,
    parameters: UnsafePointer<Scalar>, into dInputTangents: MutableMatrixView<Scalar>?
  ) {
    guard let dInputTangents else { return }
    let t = transposeWeight(parameters)
    if dTangents.rowStride == directions * outputSize
      && dInputTangents.rowStride == directions * inputSize
    {
      // ẋ̄ = Wᵀ ẏ̄ for all rows·K tangents at once (full row tiles, as in `jvp`).
      DenseKernel.forward(
        dTangents.base, rows: rows * directions, inputs: outputSize, ldx: outputSize, weight: t,
        transposedWeight: parameters, bias: zeroBias, outputs: inputSize,
        into: dInputTangents.base, ldy: inputSize, activation: .identity)
      return
    }
    for r in 0..<rows {
      DenseKernel.forward(
        dTangents.row(r), rows: directions, inputs: outputSize, ldx: outputSize, weight: t,
        transposedWeight: parameters, bias: zeroBias, outputs: inputSize,
        into: dInputTangents.row(r), ldy: inputSize, activation: .identity)
    }
  }
}
