import NodeCore

/// A forward pass and its JVP through a ``Sequential`` — every layer's output
/// and output tangents (but a fused tanh's, which restoring derives again),
/// the input and its tangents — kept after the passes,
/// so that ``Sequential/jvpBackward(times:parameters:outputCotangent:tangentCotangent:inputCotangent:timeCotangents:parameterGradient:rowWeights:)``
/// can run on it later without running the network again
/// (``Sequential/restorePass(_:rows:count:)``).
///
/// Backprop through a solver keeps one per stage evaluation of a CNF: the
/// backward pass then costs one pass back through the network per stage
/// instead of a recomputation of the stage and a forward pass inside the
/// vector-Jacobian product. The layers' buffers are the network's own,
/// exchanged rather than copied; only the input and its tangents are copied.
/// A tanh after a concat-squash layer keeps nothing: `tanh(y)` and
/// `(1 − y²) ẏ` are computed again from the layer's kept `y` and `ẏ` with the
/// passes' own arithmetic (the same bits), which costs less than writing them
/// to memory and reading them back — in W1 three of the seven arrays a hidden
/// layer kept per stage.
public final class KeptPass<Scalar: TensorScalar> {
  /// The rows of the kept pass.
  public internal(set) var rows = 0
  /// The JVP's directions per row.
  public internal(set) var directions = 0
  var outputs: [ScratchBuffer<Scalar>]
  var tangentOutputs: [ScratchBuffer<Scalar>]
  let input = ScratchBuffer<Scalar>()
  let inputTangents = ScratchBuffer<Scalar>()

  init(layers: Int) {
    outputs = (0..<layers).map { _ in ScratchBuffer() }
    tangentOutputs = (0..<layers).map { _ in ScratchBuffer() }
  }
}

extension Sequential {
  /// A holder for ``keepLastPass(in:)``.
  public func makeKeptPass() -> KeptPass<Scalar> { KeptPass(layers: layers.count) }

  /// Hands the last forward pass and the JVP on it to `kept`. The network
  /// takes `kept`'s previous buffers in exchange, so a JVP or backward pass
  /// needs a new forward pass (or ``restorePass(_:rows:count:)``) after this.
  ///
  /// - Precondition: ``forward(_:times:parameters:into:streamingFusedOutputs:)`` then
  ///   ``jvp(times:parameters:inputTangents:directions:into:streamingFusedOutputs:)`` ran last, and
  ///   every layer differentiates its JVP (such layers' backward passes read
  ///   nothing but their operands).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func keepLastPass(in kept: KeptPass<Scalar>) {
    precondition(
      keepsLastOutput && tangentsAreCurrent,
      "keepLastPass needs forward(_:…) and then jvp(…) on the same rows")
    precondition(isTangentDifferentiable, "only layers that differentiate their JVP keep a pass")
    kept.rows = rows
    kept.directions = directions
    let width = directions * inputSize
    copyRows(of: input, width: inputSize, into: kept.input.reserve(rows * inputSize))
    copyRows(of: inputTangents, width: width, into: kept.inputTangents.reserve(rows * width))
    for l in layers.indices where !isDerivedTanh[l] {
      swap(&outputs[l], &kept.outputs[l])
      swap(&tangentOutputs[l], &kept.tangentOutputs[l])
    }
    keepsLastOutput = false
    tangentsAreCurrent = false
  }

  /// Copies the first `width` values of each of the `rows` rows of `matrix`
  /// to `target`, packed: in one block when they lie back to back (a CNF's
  /// 2-wide states would otherwise cost a call a row).
  private func copyRows(
    of matrix: MatrixView<Scalar>, width: Int, into target: UnsafeMutablePointer<Scalar>
  ) {
    if matrix.rowStride == width {
      target.update(from: matrix.base, count: rows * width)
      return
    }
    for r in 0..<rows { (target + r * width).update(from: matrix.row(r), count: width) }
  }

  /// Whether every value `kept` holds for its rows `rows[0 ..< count]` — input,
  /// input tangents, every layer's output and output tangents — is finite: a
  /// backward pass over all of its rows with zero cotangents at those then
  /// adds exactly nothing for them.
  public func keptRowsAreFinite(
    _ kept: KeptPass<Scalar>, rows chosen: UnsafePointer<Int>, count: Int
  )
    -> Bool
  {
    let k = kept.directions
    let buffers =
      [(kept.input, inputSize), (kept.inputTangents, k * inputSize)]
      + layers.indices.filter { !isDerivedTanh[$0] }.flatMap { l in
        [
          (kept.outputs[l], layers[l].outputSize),
          (kept.tangentOutputs[l], k * layers[l].outputSize),
        ]
      }
    return buffers.allSatisfy { $0.rowsAreFinite(chosen, count: count, columns: $1) }
  }

  /// Makes rows `rows[0 ..< count]` of `kept` (all of them, in order, when
  /// `rows` is nil) the network's last forward pass and JVP, as if they had
  /// just run on those rows (at the times they ran at, which the backward pass
  /// is given again), ready for ``jvpBackward(times:parameters:outputCotangent:tangentCotangent:inputCotangent:timeCotangents:parameterGradient:rowWeights:)``.
  ///
  /// All rows take `kept`'s layer buffers back in exchange (`kept` holds no
  /// pass afterwards); chosen rows are copied, and `kept` stays as it was.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func restorePass(
    _ kept: KeptPass<Scalar>, rows chosen: UnsafePointer<Int>?, count: Int
  ) {
    let k = kept.directions
    let n = chosen == nil ? kept.rows : count
    if let chosen {
      for l in layers.indices where !isDerivedTanh[l] {
        let width = layers[l].outputSize
        outputs[l].gather(rows: chosen, count: n, of: kept.outputs[l].base, columns: width)
        tangentOutputs[l].gather(
          rows: chosen, count: n, of: kept.tangentOutputs[l].base, columns: k * width)
      }
      ownedInput.gather(rows: chosen, count: n, of: kept.input.base, columns: inputSize)
      ownedInputTangents.gather(
        rows: chosen, count: n, of: kept.inputTangents.base, columns: k * inputSize)
    } else {
      for l in layers.indices where !isDerivedTanh[l] {
        swap(&outputs[l], &kept.outputs[l])
        swap(&tangentOutputs[l], &kept.tangentOutputs[l])
      }
      ownedInput.reserve(n * inputSize).update(from: kept.input.base, count: n * inputSize)
      ownedInputTangents.reserve(n * k * inputSize).update(
        from: kept.inputTangents.base, count: n * k * inputSize)
      kept.rows = 0
    }
    // A fused tanh's output and output tangents from the kept output y and
    // tangents ẏ of the layer before it, with the passes' own arithmetic
    // (the same bits): tanh(y) and (1 − tanh(y)²) ẏ, in one pass.
    for l in layers.indices where isDerivedTanh[l] {
      let width = layers[l].outputSize
      TangentKernels.tanhWithJVP(
        input: MatrixView(base: outputs[l - 1].base, rows: n, columns: width),
        tangents: MatrixView(base: tangentOutputs[l - 1].base, rows: n, columns: k * width),
        blocks: k,
        output: MutableMatrixView(base: outputs[l].reserve(n * width), rows: n, columns: width),
        outputTangents: MutableMatrixView(
          base: tangentOutputs[l].reserve(n * k * width), rows: n, columns: k * width))
    }
    input = MatrixView(base: ownedInput.base, rows: n, columns: inputSize)
    inputTangents = MatrixView(base: ownedInputTangents.base, rows: n, columns: k * inputSize)
    rows = n
    directions = k
    keepsLastOutput = true
    tangentsAreCurrent = true
    keepsEveryCotangent = false
    backwardKeptEveryCotangent = false
  }
}
