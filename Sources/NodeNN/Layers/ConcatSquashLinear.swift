import NodeCore
import RealModule

/// FFJORD's concat-squash layer `y = (W x + b) ⊙ σ(a t + c) + d t`: a linear
/// map gated and shifted by the time. Parameters, in order: `weight`
/// `[out, in]`, `bias` `[out]`, `gate_weight` (a) `[out]`, `gate_bias` (c)
/// `[out]`, `time_weight` (d) `[out]` — the names of WORKLOADS.md's W1 files.
public final class ConcatSquashLinear<Scalar: TensorScalar>: TangentDifferentiableLayer {
  let linear: Linear<Scalar>
  private let gateScratch = ScratchBuffer<Scalar>()
  private let cotangentScratch = ScratchBuffer<Scalar>()
  private let tangentScratch = ScratchBuffer<Scalar>()
  private let weightedCotangentScratch = ScratchBuffer<Scalar>()
  private let weightedTangentScratch = ScratchBuffer<Scalar>()
  /// The times and gate parameters the gate scratch was last computed from:
  /// a field evaluation calls forward, JVP and their backward passes on the
  /// same rows, which share one gate.
  private let gatedTimes = ValueSnapshot<Scalar>()
  private let gatedParameters = ValueSnapshot<Scalar>()

  public var inputSize: Int { linear.inputSize }
  public var outputSize: Int { linear.outputSize }

  /// A layer from `inputs` to `outputs` features.
  public init(inputs: Int, outputs: Int) {
    linear = Linear(inputs: inputs, outputs: outputs)
  }

  public var parameterGradientNeedsOnlyOperands: Bool { true }

  public var parameterTensors: [ParameterTensor] {
    linear.parameterTensors
      // FFJORD's hyper-networks of the time are `nn.Linear(1, out)`: fan-in 1.
      + ["gate_weight", "gate_bias", "time_weight"].map {
        ParameterTensor(
          name: $0, shape: [outputSize], initialization: .kaimingUniform(fanIn: 1))
      }
  }

  /// Offsets of `a`, `c`, `d` in the layer's parameters.
  var gateOffset: Int { (inputSize + 1) * outputSize }

  /// `g = σ(a t + c)` of every row into the gate scratch.
  func gate(rows n: Int, times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>)
    -> UnsafeMutablePointer<Scalar>
  {
    let out = outputSize
    let a = parameters + gateOffset
    let c = a + out
    if gatedTimes.holds(times, count: n) && gatedParameters.holds(a, count: 2 * out) {
      return gateScratch.base
    }
    let g = gateScratch.reserve(n * out)
    ConcatSquashGateKernels.gate(
      times: times, gateWeight: a, gateBias: c, rows: n, width: out, into: g)
    gatedTimes.take(times, count: n)
    gatedParameters.take(a, count: 2 * out)
    return g
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func forward(
    _ x: MatrixView<Scalar>, times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
    into y: MutableMatrixView<Scalar>
  ) {
    forward(x, times: times, parameters: parameters, into: y, activated: nil)
  }

  /// The forward pass, and with `activated` the output of a tanh after the
  /// layer as well, in the same pass over each tile of rows (``Sequential``
  /// runs a concat-squash layer and its tanh this way). `activated` must not
  /// overlap `y`: the backward passes need the layer's own output.
  /// `streamingOutput`: `y` is read again only by a much later backward pass
  /// (``RowGate/streamsOutput``).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func forward(
    _ x: MatrixView<Scalar>, times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
    into y: MutableMatrixView<Scalar>, activated: MutableMatrixView<Scalar>?,
    streamingOutput: Bool = false
  ) {
    let g = gate(rows: x.rows, times: times, parameters: parameters)
    var rowGate = RowGate(gate: g, shift: (weight: parameters + gateOffset + 2 * outputSize, times))
    rowGate.tanh = activated.map { GatedTanh(output: $0) }
    rowGate.streamsOutput = streamingOutput
    DenseKernel.gatedForward(
      x.base, rows: x.rows, inputs: inputSize, ldx: x.rowStride, weight: parameters,
      transposedWeight: linear.preparedTranspose(parameters),
      bias: parameters + inputSize * outputSize, outputs: outputSize, into: y.base,
      ldy: y.rowStride, gate: rowGate)
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func backward(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, outputCotangent dy: MatrixView<Scalar>,
    inputCotangent dx: MutableMatrixView<Scalar>?, timeCotangents: UnsafeMutablePointer<Scalar>?,
    parameterGradient: UnsafeMutablePointer<Scalar>?, rowWeights: UnsafePointer<Scalar>?
  ) {
    backward(
      x, output: y, activated: nil, times: times, parameters: parameters, outputCotangent: dy,
      tangents: nil, inputCotangent: dx, inputTangentCotangent: nil,
      timeCotangents: timeCotangents, parameterGradient: parameterGradient,
      rowWeights: rowWeights)
  }

  /// The tangents of a backward pass through the layer's JVP: the layer's
  /// input and output tangents, the output tangents' cotangents and the
  /// number of directions.
  typealias TangentOperands = (
    input: MatrixView<Scalar>, output: MatrixView<Scalar>, cotangent: MatrixView<Scalar>,
    directions: Int
  )

  /// Every backward pass of the layer. The gate kernel first takes the
  /// cotangents back through an optional tanh after the layer (`activated`,
  /// its output), collects the gate's gradients — their slope `h g (1 − g)`
  /// comes from the output, `h g = y − d t`, without re-running the linear
  /// map — and writes `ȳ ⊙ g` and `ẏ̄_k ⊙ g`; those then go through the
  /// linear map (`y = h ⊙ g + d t`, `ẏ_k = (W ẋ_k) ⊙ g`). With a parameter
  /// gradient the kernel also adds the linear map's bias gradient, and with
  /// row weights writes the cotangents weighted for the weight gradient's
  /// GEMMs, so they are not read again to be scaled or summed.
  private func backward(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, activated: MatrixView<Scalar>?,
    times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
    outputCotangent dy: MatrixView<Scalar>, tangents: TangentOperands?,
    inputCotangent dx: MutableMatrixView<Scalar>?,
    inputTangentCotangent dInputTangents: MutableMatrixView<Scalar>?,
    timeCotangents: UnsafeMutablePointer<Scalar>?, parameterGradient: UnsafeMutablePointer<Scalar>?,
    rowWeights: UnsafePointer<Scalar>?
  ) {
    let n = x.rows
    let g = gate(rows: n, times: times, parameters: parameters)
    let a = parameters + gateOffset
    var operands = ConcatSquashGateKernels.Backward(
      rows: n, width: outputSize, gate: g, times: times, gateWeight: a,
      timeWeight: a + 2 * outputSize)
    operands.gradient = parameterGradient.map { $0 + gateOffset }
    operands.biasGradient = parameterGradient.map { $0 + inputSize * outputSize }
    (operands.rowWeights, operands.timeCotangents) = (rowWeights, timeCotangents)
    (operands.output, operands.outputCotangent, operands.activatedOutput) = (y, dy, activated)
    let weighs = parameterGradient != nil && rowWeights != nil
    let gatedBars = scratchMatrix(cotangentScratch, rows: n, columns: outputSize)
    let weightedBars =
      weighs ? scratchMatrix(weightedCotangentScratch, rows: n, columns: outputSize) : gatedBars
    operands.gatedOutputCotangent = gatedBars
    if weighs { operands.weightedGatedOutputCotangent = weightedBars }
    var gatedTangentBars: MutableMatrixView<Scalar>? = nil
    var weightedTangentBars: MutableMatrixView<Scalar>? = nil
    if let tangents {
      let width = tangents.directions * outputSize
      gatedTangentBars = scratchMatrix(tangentScratch, rows: n, columns: width)
      weightedTangentBars =
        weighs ? scratchMatrix(weightedTangentScratch, rows: n, columns: width) : gatedTangentBars
      (operands.tangents, operands.tangentCotangents) = (tangents.output, tangents.cotangent)
      operands.directions = tangents.directions
      operands.gatedTangentCotangents = gatedTangentBars
      if weighs { operands.weightedGatedTangentCotangents = weightedTangentBars }
    }
    ConcatSquashGateKernels.backward(operands)
    if let gradient = parameterGradient {
      linear.addWeightGradient(x, weightedCotangent: weightedBars.readOnly, into: gradient)
    }
    if let dx { linear.inputCotangent(gatedBars.readOnly, parameters: parameters, into: dx) }
    guard let tangents, let gatedTangentBars, let weightedTangentBars else { return }
    if let gradient = parameterGradient {
      if tangents.input.rowStride == tangents.directions * inputSize {
        linear.addTangentWeightGradient(
          tangents.input, rows: n, directions: tangents.directions,
          weightedTangentCotangent: weightedTangentBars.readOnly, into: gradient)
      } else {
        // Tangents with gaps between rows: one small GEMM per row, weighted there.
        linear.accumulateTangentGradients(
          tangents.input, rows: n, directions: tangents.directions,
          tangentCotangent: gatedTangentBars.readOnly, parameters: parameters,
          inputTangentCotangent: nil, parameterGradient: gradient, rowWeights: rowWeights)
      }
    }
    linear.tangentInputCotangents(
      gatedTangentBars.readOnly, rows: n, directions: tangents.directions,
      parameters: parameters, into: dInputTangents)
  }

  /// A contiguous `[rows, columns]` matrix in `buffer`.
  private func scratchMatrix(_ buffer: ScratchBuffer<Scalar>, rows: Int, columns: Int)
    -> MutableMatrixView<Scalar>
  {
    MutableMatrixView(base: buffer.reserve(rows * columns), rows: rows, columns: columns)
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func jvp(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, inputTangents: MatrixView<Scalar>, directions: Int,
    into outputTangents: MutableMatrixView<Scalar>
  ) {
    jvp(
      x, output: y, times: times, parameters: parameters, inputTangents: inputTangents,
      directions: directions, into: outputTangents, activated: nil)
  }

  /// The JVP, and with `activated` (a tanh after the layer: its output and
  /// the target of its tangents, which must not overlap `outputTangents`)
  /// the tanh's JVP `(1 − y_act²) ẏ` as well, in the same pass over each
  /// tile of rows.
  /// `streamingOutput`: `outputTangents` are read again only by a much later
  /// backward pass (``RowGate/streamsOutput``).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func jvp(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, inputTangents: MatrixView<Scalar>, directions: Int,
    into outputTangents: MutableMatrixView<Scalar>,
    activated: (output: MatrixView<Scalar>, tangents: MutableMatrixView<Scalar>)?,
    streamingOutput: Bool = false
  ) {
    let g = gate(rows: x.rows, times: times, parameters: parameters)
    if inputTangents.rowStride == directions * inputSize
      && outputTangents.rowStride == directions * outputSize
      && (activated.map { $0.tangents.rowStride == directions * outputSize } ?? true)
    {
      // ẏ_k = (W ẋ_k) ⊙ g: one gated product over the rows·K tangents.
      var rowGate = RowGate(gate: g, rowsPerGate: directions)
      rowGate.tanh = activated.map {
        GatedTanh(
          output: MutableMatrixView(
            base: $0.tangents.base, rows: x.rows * directions, columns: outputSize),
          primalOutputs: $0.output)
      }
      rowGate.streamsOutput = streamingOutput
      DenseKernel.gatedForward(
        inputTangents.base, rows: x.rows * directions, inputs: inputSize, ldx: inputSize,
        weight: parameters, transposedWeight: linear.preparedTranspose(parameters),
        bias: linear.zeroBias, outputs: outputSize, into: outputTangents.base, ldy: outputSize,
        gate: rowGate)
      return
    }
    linear.jvp(
      x, output: y, times: times, parameters: parameters, inputTangents: inputTangents,
      directions: directions, into: outputTangents)
    TangentKernels.multiplyBlocks(
      outputTangents.readOnly, blocks: directions, width: outputSize, by: g, into: outputTangents)
    if let activated {
      TangentKernels.tanhJVP(
        output: activated.output, tangents: outputTangents.readOnly, blocks: directions,
        into: activated.tangents)
    }
  }
}

extension ConcatSquashLinear {
  /// `ẏ = (W ẋ) ⊙ g` with `g = σ(a t + c)`: the linear part sees `ȳ ⊙ g` and
  /// `ẏ̄ ⊙ g`; the gate collects `ȳ·h + Σ_k ẏ̄_k·(W ẋ_k)` through `g' = g(1 − g)`.
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
    backward(
      x, output: y, activated: nil, times: times, parameters: parameters, outputCotangent: dy,
      tangents: (inputTangents, outputTangents, dTangents, directions), inputCotangent: dx,
      inputTangentCotangent: dInputTangents, timeCotangents: timeCotangents,
      parameterGradient: parameterGradient, rowWeights: rowWeights)
  }

  /// The backward pass of this layer's JVP followed by an element-wise tanh,
  /// `y_act = tanh(y)`, `ẏ_act,k = (1 − y_act²) ẏ_k` (``Sequential`` runs
  /// the pair this way): the cotangents given are `y_act`'s and `ẏ_act`'s,
  /// and the tanh's backward pass (``ElementwiseActivation``'s arithmetic)
  /// runs inside the gate's pass, so the layer's own cotangents never go
  /// through memory. Otherwise as
  /// ``jvpBackward(_:output:times:parameters:inputTangents:outputTangents:directions:outputCotangent:tangentCotangent:inputCotangent:inputTangentCotangent:timeCotangents:parameterGradient:rowWeights:)``.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func jvpBackward(
    throughTanh activated: MatrixView<Scalar>, _ x: MatrixView<Scalar>,
    output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, inputTangents: MatrixView<Scalar>,
    outputTangents: MatrixView<Scalar>, directions: Int,
    activatedCotangent dy: MatrixView<Scalar>,
    activatedTangentCotangent dTangents: MatrixView<Scalar>,
    inputCotangent dx: MutableMatrixView<Scalar>?,
    inputTangentCotangent dInputTangents: MutableMatrixView<Scalar>?,
    timeCotangents: UnsafeMutablePointer<Scalar>?, parameterGradient: UnsafeMutablePointer<Scalar>?,
    rowWeights: UnsafePointer<Scalar>?
  ) {
    backward(
      x, output: y, activated: activated, times: times, parameters: parameters,
      outputCotangent: dy, tangents: (inputTangents, outputTangents, dTangents, directions),
      inputCotangent: dx, inputTangentCotangent: dInputTangents, timeCotangents: timeCotangents,
      parameterGradient: parameterGradient, rowWeights: rowWeights)
  }
}
