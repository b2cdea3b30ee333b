import NodeCore

/// The activations and every layer's output cotangent of a ``Sequential``
/// backward pass, kept after the pass, so that the parameter gradient of some
/// of its rows can be added later with other row weights without running the
/// network again
/// (``Sequential/replayParameterGradient(of:input:outputCotangent:times:rows:count:parameters:into:rowWeights:)``;
/// the pass's input, its output cotangent and times stay with the caller,
/// who keeps them anyway).
///
/// The adjoint's first-same-as-last stage uses it: the last stage of one step
/// is the first of the next, whose weight `b₁ h` is known only once the next
/// step is decided. The buffers are the network's own, exchanged rather than
/// copied.
public final class KeptBackward<Scalar: TensorScalar> {
  /// The rows of the kept pass.
  public internal(set) var rows = 0
  var outputs: [ScratchBuffer<Scalar>]
  var inputCotangents: [ScratchBuffer<Scalar>]
  /// Chosen rows gathered for a replay, one buffer per operand.
  private var gathered: [ScratchBuffer<Scalar>] = []
  private var gatheredCount = 0

  init(layers: Int) {
    outputs = (0..<layers).map { _ in ScratchBuffer() }
    inputCotangents = (0..<layers).map { _ in ScratchBuffer() }
  }

  /// Rows `rows[0 ..< count]` of `matrix`: the matrix itself when `rows` is
  /// nil, else a gathered copy.
  func view(_ matrix: MatrixView<Scalar>, rows chosen: UnsafePointer<Int>?, count: Int)
    -> MatrixView<Scalar>
  {
    guard let chosen else { return matrix }
    let columns = matrix.columns
    if gatheredCount == gathered.count { gathered.append(ScratchBuffer()) }
    let target = gathered[gatheredCount].reserve(count * columns)
    gatheredCount += 1
    for k in 0..<count {
      (target + k * columns).update(from: matrix.row(chosen[k]), count: columns)
    }
    return MatrixView(base: target, rows: count, columns: columns)
  }

  /// Rows `rows[0 ..< count]` of the kept `[self.rows, columns]` matrix in `buffer`.
  func view(
    _ buffer: ScratchBuffer<Scalar>, columns: Int, rows chosen: UnsafePointer<Int>?, count: Int
  ) -> MatrixView<Scalar> {
    view(MatrixView(base: buffer.base, rows: rows, columns: columns), rows: chosen, count: count)
  }

  /// Starts a replay's gathering over (the gathered buffers are reused).
  func resetGathering() { gatheredCount = 0 }
}

extension Sequential {
  /// A holder for ``keepLastBackward(in:)``.
  public func makeKeptBackward() -> KeptBackward<Scalar> { KeptBackward(layers: layers.count) }

  /// Hands the last backward pass, run on the last forward pass, to `kept`.
  /// The network takes `kept`'s previous buffers in exchange, so a backward
  /// pass needs a new forward pass after this.
  ///
  /// - Precondition: a backward pass with ``keepsEveryCotangent`` ran on the
  ///   current forward pass, and ``canReplayBackward``.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func keepLastBackward(in kept: KeptBackward<Scalar>) {
    precondition(
      keepsLastOutput && backwardKeptEveryCotangent,
      "keepLastBackward needs a backward pass keeping every cotangent on the current forward pass")
    precondition(
      canReplayBackward, "a layer's parameter gradient needs more than its operands: no replay")
    kept.rows = rows
    swap(&outputs, &kept.outputs)
    swap(&inputCotangents, &kept.inputCotangents)
    keepsLastOutput = false
    backwardKeptEveryCotangent = false
  }

  /// Adds the parameter gradient of rows `rows[0 ..< count]` of the kept pass
  /// (all of them, in order, when `rows` is nil), row `k` weighted by
  /// `rowWeights[k]`, into `parameterGradient`: every layer with parameters
  /// takes its kept operands again, without input cotangents. The sum is the
  /// one a backward pass over just those rows, in that order, adds.
  /// `input`, `outputCotangent` and `times` are the kept pass's own.
  ///
  /// - Precondition: `input` and `outputCotangent` have the kept pass's rows.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func replayParameterGradient(
    of kept: KeptBackward<Scalar>, input: MatrixView<Scalar>,
    outputCotangent dy: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    rows chosen: UnsafePointer<Int>?, count: Int, parameters: UnsafePointer<Scalar>,
    into parameterGradient: UnsafeMutablePointer<Scalar>, rowWeights: UnsafePointer<Scalar>?
  ) {
    precondition(
      input.rows == kept.rows && dy.rows == kept.rows,
      "the kept pass has \(kept.rows) rows, its input \(input.rows) and cotangent \(dy.rows)")
    if (chosen == nil ? kept.rows : count) == 0 { return }
    kept.resetGathering()
    let times = kept.view(
      MatrixView(base: times, rows: kept.rows, columns: 1), rows: chosen, count: count
    ).base
    func activation(_ l: Int) -> MatrixView<Scalar> {
      l < 0
        ? kept.view(input, rows: chosen, count: count)
        : kept.view(kept.outputs[l], columns: layers[l].outputSize, rows: chosen, count: count)
    }
    for l in layers.indices.reversed() where layerHasParameters[l] {
      let cotangent =
        l == layers.count - 1
        ? kept.view(dy, rows: chosen, count: count)
        : kept.view(
          kept.inputCotangents[l + 1], columns: layers[l + 1].inputSize, rows: chosen, count: count)
      layers[l].backward(
        activation(l - 1), output: activation(l), times: times,
        parameters: parameters + parameterOffsets[l], outputCotangent: cotangent,
        inputCotangent: nil, timeCotangents: nil,
        parameterGradient: parameterGradient + parameterOffsets[l], rowWeights: rowWeights)
    }
  }
}
