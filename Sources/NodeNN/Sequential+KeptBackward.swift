import NodeCore

/// Which backward pass of ``Sequential`` ran last on its kept forward pass.
enum BackwardKind {
  /// ``Sequential/backward(times:parameters:outputCotangent:inputCotangent:timeCotangents:parameterGradient:rowWeights:)``.
  case plain
  /// ``Sequential/jvpBackward(times:parameters:outputCotangent:tangentCotangent:inputCotangent:timeCotangents:parameterGradient:rowWeights:)``.
  case tangent
}

/// Everything a ``Sequential`` backward pass handed its layers — activations,
/// tangents, every layer's output cotangents and the times — kept after the
/// pass, so that the parameter gradient of some of its rows can be added
/// later with other row weights without running the network again
/// (``Sequential/replayParameterGradient(of:rows:count:parameters:into:rowWeights:)``).
///
/// The adjoint's first-same-as-last stage uses it: the last stage of one step
/// is the first of the next, whose weight `b₁ h` is known only once the next
/// step is decided. The buffers are the network's own, exchanged rather than
/// copied, apart from the pass's input, its cotangent and the times.
public final class KeptBackward<Scalar: TensorScalar> {
  /// The rows of the kept pass.
  public internal(set) var rows = 0
  var kind: BackwardKind?
  var directions = 0
  var outputs: [ScratchBuffer<Scalar>]
  var inputCotangents: [ScratchBuffer<Scalar>]
  var tangentOutputs: [ScratchBuffer<Scalar>]
  var inputTangentCotangents: [ScratchBuffer<Scalar>]
  let input = ScratchBuffer<Scalar>()
  let inputTangents = ScratchBuffer<Scalar>()
  let outputCotangent = ScratchBuffer<Scalar>()
  let tangentCotangent = ScratchBuffer<Scalar>()
  let times = ScratchBuffer<Scalar>()
  /// Chosen rows gathered for a replay, one buffer per operand.
  private var gathered: [ScratchBuffer<Scalar>] = []
  private var gatheredCount = 0

  init(layers: Int) {
    outputs = (0..<layers).map { _ in ScratchBuffer() }
    inputCotangents = (0..<layers).map { _ in ScratchBuffer() }
    tangentOutputs = (0..<layers).map { _ in ScratchBuffer() }
    inputTangentCotangents = (0..<layers).map { _ in ScratchBuffer() }
  }

  /// Rows `rows[0 ..< count]` of the kept `[self.rows, columns]` matrix in
  /// `buffer`: the matrix itself when `rows` is nil, else a gathered copy.
  func view(
    _ buffer: ScratchBuffer<Scalar>, columns: Int, rows chosen: UnsafePointer<Int>?, count: Int
  ) -> MatrixView<Scalar> {
    guard let chosen else { return MatrixView(base: buffer.base, rows: rows, columns: columns) }
    if gatheredCount == gathered.count { gathered.append(ScratchBuffer()) }
    let target = gathered[gatheredCount].reserve(count * columns)
    gatheredCount += 1
    for k in 0..<count {
      (target + k * columns).update(from: buffer.base + chosen[k] * columns, count: columns)
    }
    return MatrixView(base: target, rows: count, columns: columns)
  }

  /// Starts a replay's gathering over (the gathered buffers are reused).
  func resetGathering() { gatheredCount = 0 }
}

extension Sequential {
  /// A holder for ``keepLastBackward(in:times:outputCotangent:tangentCotangent:)``.
  public func makeKeptBackward() -> KeptBackward<Scalar> { KeptBackward(layers: layers.count) }

  /// Hands the last backward pass — run on the last forward pass (and JVP)
  /// with `times` and cotangents `outputCotangent` (and `tangentCotangent`
  /// for ``jvpBackward(times:parameters:outputCotangent:tangentCotangent:inputCotangent:timeCotangents:parameterGradient:rowWeights:)``)
  /// — to `kept`. The network takes `kept`'s previous buffers in exchange,
  /// so a backward pass needs a new forward pass after this.
  ///
  /// - Precondition: a backward pass with ``keepsEveryCotangent`` ran on the
  ///   current forward pass.
  public func keepLastBackward(
    in kept: KeptBackward<Scalar>, times: UnsafePointer<Scalar>,
    outputCotangent dy: MatrixView<Scalar>, tangentCotangent dTangents: MatrixView<Scalar>?
  ) {
    guard let kind = lastBackward, keepsLastOutput else {
      preconditionFailure(
        "keepLastBackward needs a backward pass keeping every cotangent on the current forward pass"
      )
    }
    precondition((kind == .tangent) == (dTangents != nil), "tangent cotangents go with jvpBackward")
    (kept.rows, kept.kind, kept.directions) = (rows, kind, directions)
    swap(&outputs, &kept.outputs)
    swap(&inputCotangents, &kept.inputCotangents)
    copyRows(input, columns: inputSize, into: kept.input)
    copyRows(dy, columns: outputSize, into: kept.outputCotangent)
    kept.times.reserve(rows).update(from: times, count: rows)
    if let dTangents {
      swap(&tangentOutputs, &kept.tangentOutputs)
      swap(&inputTangentCotangents, &kept.inputTangentCotangents)
      copyRows(inputTangents, columns: directions * inputSize, into: kept.inputTangents)
      copyRows(dTangents, columns: directions * outputSize, into: kept.tangentCotangent)
    }
    keepsLastOutput = false
    lastBackward = nil
  }

  private func copyRows(_ m: MatrixView<Scalar>, columns: Int, into buffer: ScratchBuffer<Scalar>) {
    let target = buffer.reserve(m.rows * columns)
    for r in 0..<m.rows { (target + r * columns).update(from: m.row(r), count: columns) }
  }

  /// Adds the parameter gradient of rows `rows[0 ..< count]` of the kept pass
  /// (all of them, in order, when `rows` is nil), row `k` weighted by
  /// `rowWeights[k]`, into `parameterGradient`: every layer with parameters
  /// takes its kept operands again, without input cotangents. The sum is the
  /// one the original backward pass would have added over those rows.
  public func replayParameterGradient(
    of kept: KeptBackward<Scalar>, rows chosen: UnsafePointer<Int>?, count: Int,
    parameters: UnsafePointer<Scalar>, into parameterGradient: UnsafeMutablePointer<Scalar>,
    rowWeights: UnsafePointer<Scalar>?
  ) {
    guard let kind = kept.kind else { preconditionFailure("nothing kept to replay") }
    let n = chosen == nil ? kept.rows : count
    if n == 0 { return }
    kept.resetGathering()
    let times = kept.view(kept.times, columns: 1, rows: chosen, count: count).base
    let m = kept.directions
    func activation(_ l: Int) -> MatrixView<Scalar> {
      l < 0
        ? kept.view(kept.input, columns: inputSize, rows: chosen, count: count)
        : kept.view(kept.outputs[l], columns: layers[l].outputSize, rows: chosen, count: count)
    }
    func cotangent(after l: Int) -> MatrixView<Scalar> {
      l == layers.count - 1
        ? kept.view(kept.outputCotangent, columns: outputSize, rows: chosen, count: count)
        : kept.view(
          kept.inputCotangents[l + 1], columns: layers[l + 1].inputSize, rows: chosen, count: count)
    }
    func tangent(_ l: Int) -> MatrixView<Scalar> {
      l < 0
        ? kept.view(kept.inputTangents, columns: m * inputSize, rows: chosen, count: count)
        : kept.view(
          kept.tangentOutputs[l], columns: m * layers[l].outputSize, rows: chosen, count: count)
    }
    func tangentCotangent(after l: Int) -> MatrixView<Scalar> {
      l == layers.count - 1
        ? kept.view(kept.tangentCotangent, columns: m * outputSize, rows: chosen, count: count)
        : kept.view(
          kept.inputTangentCotangents[l + 1], columns: m * layers[l + 1].inputSize, rows: chosen,
          count: count)
    }
    var l = layers.count - 1
    while l >= 0 {
      // As the backward pass went: a concat-squash layer and its tanh as one step.
      let fused = kind == .tangent && l > 0 ? tanhFollowed[l - 1] : nil
      let first = fused == nil ? l : l - 1
      defer { l = first - 1 }
      let layer = layers[first]
      guard layer.parameterCount > 0 else { continue }
      let p = parameters + parameterOffsets[first]
      let g = parameterGradient + parameterOffsets[first]
      switch kind {
      case .plain:
        layer.backward(
          activation(first - 1), output: activation(first), times: times, parameters: p,
          outputCotangent: cotangent(after: first), inputCotangent: nil, timeCotangents: nil,
          parameterGradient: g, rowWeights: rowWeights)
      case .tangent:
        if let fused {
          fused.jvpBackward(
            throughTanh: activation(l), activation(first - 1), output: activation(first),
            times: times, parameters: p, inputTangents: tangent(first - 1),
            outputTangents: tangent(first), directions: m, activatedCotangent: cotangent(after: l),
            activatedTangentCotangent: tangentCotangent(after: l), inputCotangent: nil,
            inputTangentCotangent: nil, timeCotangents: nil, parameterGradient: g,
            rowWeights: rowWeights)
        } else {
          guard let layer = layer as? any TangentDifferentiableLayer<Scalar> else {
            preconditionFailure("layer \(first) cannot differentiate its JVP")
          }
          layer.jvpBackward(
            activation(first - 1), output: activation(first), times: times, parameters: p,
            inputTangents: tangent(first - 1), outputTangents: tangent(first), directions: m,
            outputCotangent: cotangent(after: first),
            tangentCotangent: tangentCotangent(after: first),
            inputCotangent: nil, inputTangentCotangent: nil, timeCotangents: nil,
            parameterGradient: g, rowWeights: rowWeights)
        }
      }
    }
  }
}
