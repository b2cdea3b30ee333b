import NodeCore
import NodeSolvers

/// A multilayer-perceptron vector field `f(z, t) = W_L σ(… σ(W_1 x + b_1) …) + b_L`
/// with `x = z`, or `x = [t, z]` when time is an input, and its hand-derived
/// vector-Jacobian product.
///
/// Parameters are one flat buffer, layer after layer: the weight `[out, in]`
/// (PyTorch's layout; with a time input, column 0 of the first weight
/// multiplies `t`) then the bias `[out]`. Every row goes through the same
/// operations wherever it sits in the batch (``DenseLayer``), so outputs and
/// state cotangents are bitwise independent of the batch; parameter gradients
/// are sums over rows through BLAS.
public final class MLPField<Scalar: TensorScalar>: DifferentiableVectorField {
  /// The widths from input to output: `[D, hidden…, D]` (without the time input).
  public let widths: [Int]
  /// The activation after every layer but the last.
  public let activation: MLPActivation
  /// Whether `t` is an input of the first layer.
  public let timeInput: Bool
  private var flat: [Scalar]
  private var layers: [DenseLayer<Scalar>] = []
  /// `Wᵀ` of each layer as a bias-free layer: the input cotangent `δ Wᵀ`… as `Wᵀ δ` per row.
  private var transposedLayers: [DenseLayer<Scalar>] = []
  private let inputScratch = ScratchBuffer<Scalar>()
  private var activations: [ScratchBuffer<Scalar>] = []
  private let deltaScratch = ScratchBuffer<Scalar>()
  private let inputDeltaScratch = ScratchBuffer<Scalar>()
  private let weightedDeltaScratch = ScratchBuffer<Scalar>()
  private let outputScratch = ScratchBuffer<Scalar>()

  public var dimension: Int { widths[0] }

  /// The width of the first layer's input: `D`, or `D + 1` with a time input.
  public var inputWidth: Int { widths[0] + (timeInput ? 1 : 0) }

  public var parameterCount: Int { flat.count }

  public var parameters: [Scalar] {
    get { flat }
    set {
      precondition(
        newValue.count == flat.count, "MLPField has \(flat.count) parameters, got \(newValue.count)"
      )
      flat = newValue
      rebuildLayers()
    }
  }

  /// Each layer's weight, then its bias.
  public var parameterBlocks: [Range<Int>] {
    (0..<(widths.count - 1)).flatMap { l -> [Range<Int>] in
      let (offset, inputs, outputs) = layout(l)
      let bias = offset + inputs * outputs
      return [offset..<bias, bias..<(bias + outputs)]
    }
  }

  /// The number of parameters of an MLP with these widths.
  public static func parameterCount(widths: [Int], timeInput: Bool) -> Int {
    var total = 0
    for l in 0..<(widths.count - 1) {
      let inputs = widths[l] + (l == 0 && timeInput ? 1 : 0)
      total += (inputs + 1) * widths[l + 1]
    }
    return total
  }

  /// Creates the field with the given flat parameters.
  ///
  /// - Precondition: `widths` has at least two entries, the first and last
  ///   equal (a field maps `R^D` to `R^D`), all positive, and `parameters`
  ///   holds ``parameterCount(widths:timeInput:)`` values.
  public init(widths: [Int], activation: MLPActivation, timeInput: Bool, parameters: [Scalar]) {
    precondition(widths.count >= 2 && widths.allSatisfy { $0 > 0 }, "MLP widths \(widths)")
    precondition(widths.first == widths.last, "a vector field maps R^D to R^D; widths \(widths)")
    let count = Self.parameterCount(widths: widths, timeInput: timeInput)
    precondition(
      parameters.count == count, "MLP \(widths) has \(count) parameters, got \(parameters.count)")
    self.widths = widths
    self.activation = activation
    self.timeInput = timeInput
    self.flat = parameters
    activations = (0..<(widths.count - 2)).map { _ in ScratchBuffer<Scalar>() }
    rebuildLayers()
  }

  /// Creates the field with PyTorch's default initialisation of linear
  /// layers: weights and biases uniform in `±1/√fan_in`, drawn from the
  /// counter-based generator (`stream` 0), so the field is a pure function of `seed`.
  public convenience init(widths: [Int], activation: MLPActivation, timeInput: Bool, seed: UInt64) {
    let random = CounterRandom(seed: seed)
    var values: [Scalar] = []
    var index: UInt64 = 0
    for l in 0..<(widths.count - 1) {
      let fanIn = widths[l] + (l == 0 && timeInput ? 1 : 0)
      let bound = 1 / Scalar(fanIn).squareRoot()
      for _ in 0..<((fanIn + 1) * widths[l + 1]) {
        let u: Scalar = random.uniform(stream: 0, index: index)
        values.append((2 * u - 1) * bound)
        index += 1
      }
    }
    self.init(widths: widths, activation: activation, timeInput: timeInput, parameters: values)
  }

  /// The offset of layer `l`'s weight in the flat buffer, its input width and output width.
  private func layout(_ l: Int) -> (offset: Int, inputs: Int, outputs: Int) {
    var offset = 0
    for k in 0..<l { offset += (layerInputs(k) + 1) * widths[k + 1] }
    return (offset, layerInputs(l), widths[l + 1])
  }

  private func layerInputs(_ l: Int) -> Int { widths[l] + (l == 0 && timeInput ? 1 : 0) }

  private func rebuildLayers() {
    layers = []
    transposedLayers = []
    let last = widths.count - 2
    for l in 0...last {
      let (offset, inputs, outputs) = layout(l)
      let weight = Array(flat[offset..<(offset + inputs * outputs)])
      let bias = Array(flat[(offset + inputs * outputs)..<(offset + (inputs + 1) * outputs)])
      let fused = l < last && activation == .tanh
      layers.append(
        DenseLayer(
          weight: Tensor(shape: [outputs, inputs], scalars: weight),
          bias: Tensor(shape: [outputs], scalars: bias), activation: fused ? .tanh : .identity))
      var transposed = [Scalar](repeating: 0, count: inputs * outputs)
      for o in 0..<outputs {
        for i in 0..<inputs { transposed[i * outputs + o] = weight[o * inputs + i] }
      }
      transposedLayers.append(
        DenseLayer(
          weight: Tensor(shape: [inputs, outputs], scalars: transposed),
          bias: Tensor(shape: [inputs]), activation: .identity))
    }
  }

  // MARK: - Evaluation

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func evaluate(_ batch: FieldBatch<Scalar>, into derivatives: MutableMatrixView<Scalar>) {
    forward(batch, into: derivatives)
  }

  /// The forward pass, keeping every hidden activation in `activations`.
  /// Returns the first layer's input and its row stride.
  @discardableResult
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  private func forward(
    _ batch: FieldBatch<Scalar>, into output: MutableMatrixView<Scalar>
  ) -> (UnsafePointer<Scalar>, Int) {
    let n = batch.count
    let input = firstLayerInput(batch)
    var x = input.0
    var ldx = input.1
    let last = layers.count - 1
    for (l, layer) in layers.enumerated() {
      if l == last {
        layer.forward(x, rows: n, ldx: ldx, into: output.base, ldy: output.rowStride)
      } else {
        let width = layer.outputWidth
        let y = activations[l].reserve(n * width)
        layer.forward(x, rows: n, ldx: ldx, into: y, ldy: width)
        if activation != .tanh && activation != .identity {
          for i in 0..<(n * width) { y[i] = activation.apply(y[i]) }
        }
        x = UnsafePointer(y)
        ldx = width
      }
    }
    return input
  }

  /// `[t, z]` rows with a time input, otherwise the states themselves.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  private func firstLayerInput(_ batch: FieldBatch<Scalar>) -> (UnsafePointer<Scalar>, Int) {
    guard timeInput else { return (batch.states.base, batch.states.rowStride) }
    let n = batch.count
    let width = inputWidth
    let x = inputScratch.reserve(n * width)
    for r in 0..<n {
      x[r * width] = batch.times[r]
      let z = batch.states.row(r)
      for d in 0..<dimension { x[r * width + 1 + d] = z[d] }
    }
    return (UnsafePointer(x), width)
  }

  // MARK: - Vector-Jacobian product

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func vectorJacobianProduct(
    _ batch: FieldBatch<Scalar>, cotangents: MatrixView<Scalar>,
    stateCotangents: MutableMatrixView<Scalar>?, derivatives: MutableMatrixView<Scalar>?,
    timeCotangents: UnsafeMutablePointer<Scalar>?,
    parameterGradient: ParameterGradientSink<Scalar>?
  ) {
    let n = batch.count
    if n == 0 { return }
    let maxWidth = widths.max()! + 1
    // The output is only needed when asked for; otherwise a scratch block takes it.
    let output =
      derivatives
      ?? MutableMatrixView(base: outputScratch.reserve(n * dimension), rows: n, columns: dimension)
    let (input, inputStride) = forward(batch, into: output)
    let delta = deltaScratch.reserve(n * maxWidth)
    let inputDelta = inputDeltaScratch.reserve(n * maxWidth)
    // δ_L = a (the output layer has no activation).
    for r in 0..<n {
      let a = cotangents.row(r)
      for d in 0..<dimension { delta[r * dimension + d] = a[d] }
    }
    let needsInputCotangent = stateCotangents != nil || timeCotangents != nil
    for l in stride(from: layers.count - 1, through: 0, by: -1) {
      let (offset, inputs, outputs) = layout(l)
      let x = l == 0 ? input : UnsafePointer(activations[l - 1].base)
      let ldx = l == 0 ? inputStride : inputs
      if let sink = parameterGradient {
        accumulateLayerGradient(
          sink, offset: offset, delta: delta, rows: n, inputs: inputs, outputs: outputs,
          x: x, ldx: ldx)
      }
      if l == 0 && !needsInputCotangent { break }
      // The input cotangent of each row, δ_in = Wᵀ δ.
      transposedLayers[l].forward(delta, rows: n, ldx: outputs, into: inputDelta, ldy: inputs)
      if l > 0 {
        // δ_{l−1} = δ_in ⊙ σ'(activation of layer l − 1).
        let y = activations[l - 1].base
        for i in 0..<(n * inputs) { delta[i] = inputDelta[i] * activation.derivative(output: y[i]) }
      } else {
        let shift = timeInput ? 1 : 0
        for r in 0..<n {
          if let timeCotangents { timeCotangents[r] = timeInput ? inputDelta[r * inputs] : 0 }
          if let stateCotangents {
            let out = stateCotangents.row(r)
            for d in 0..<dimension { out[d] = inputDelta[r * inputs + shift + d] }
          }
        }
      }
    }
  }

  /// Adds `Σ_r w_r δ_r x_rᵀ` to the layer's weight gradient and `Σ_r w_r δ_r`
  /// to its bias gradient.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  private func accumulateLayerGradient(
    _ sink: ParameterGradientSink<Scalar>, offset: Int, delta: UnsafeMutablePointer<Scalar>,
    rows n: Int, inputs: Int, outputs: Int, x: UnsafePointer<Scalar>, ldx: Int
  ) {
    var weighted = UnsafePointer(delta)
    if let w = sink.rowWeights {
      let scaled = weightedDeltaScratch.reserve(n * outputs)
      for r in 0..<n {
        let wr = w[r]
        for o in 0..<outputs { scaled[r * outputs + o] = wr * delta[r * outputs + o] }
      }
      weighted = UnsafePointer(scaled)
    }
    let weightGradient = sink.gradient + offset
    gemm(
      .transposed, .none, m: outputs, n: inputs, k: n, a: weighted, lda: outputs, b: x, ldb: ldx,
      beta: 1, c: weightGradient, ldc: inputs)
    let biasGradient = weightGradient + inputs * outputs
    for r in 0..<n {
      for o in 0..<outputs { biasGradient[o] += weighted[r * outputs + o] }
    }
  }
}
