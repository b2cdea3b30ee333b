import NodeCore

/// A forward pass with its JVP (``KeptPass``) and every layer's cotangents
/// from the backward pass of both
/// (``Sequential/jvpBackward(times:parameters:outputCotangent:tangentCotangent:inputCotangent:timeCotangents:parameterGradient:rowWeights:)``
/// with ``Sequential/keepsEveryCotangent``), kept after the passes, so that
/// the parameter gradient of some of its rows can be added later with other
/// row weights without running the network forward or computing input
/// cotangents (``Sequential/replayJVPParameterGradient(of:outputCotangent:tangentCotangent:times:rows:count:parameters:into:rowWeights:)``).
///
/// A CNF's adjoint uses it for the first-same-as-last stage, whose weight
/// `b₁ h` is known only once the next step is decided. The buffers are the
/// network's own, exchanged rather than copied; the network's output
/// cotangent and its tangents' stay with the caller.
public final class KeptJVPBackward<Scalar: TensorScalar> {
  /// The forward pass and its JVP.
  public let pass: KeptPass<Scalar>
  var inputCotangents: [ScratchBuffer<Scalar>]
  var inputTangentCotangents: [ScratchBuffer<Scalar>]
  /// Chosen rows of the cotangents gathered for a replay.
  let gathered = (ScratchBuffer<Scalar>(), ScratchBuffer<Scalar>())

  init(pass: KeptPass<Scalar>, layers: Int) {
    self.pass = pass
    inputCotangents = (0..<layers).map { _ in ScratchBuffer() }
    inputTangentCotangents = (0..<layers).map { _ in ScratchBuffer() }
  }

  /// The rows of the kept passes.
  public var rows: Int { pass.rows }
}

extension Sequential {
  /// A holder for ``keepLastJVPBackward(in:)``.
  public func makeKeptJVPBackward() -> KeptJVPBackward<Scalar> {
    KeptJVPBackward(pass: makeKeptPass(), layers: layers.count)
  }

  /// Hands the last forward pass, its JVP and the JVP backward pass that ran
  /// on them to `kept` (see ``keepLastPass(in:)``). The JVP's input tangents
  /// are copied from the caller's memory here, so they must still be alive.
  ///
  /// - Precondition: ``jvpBackward(times:parameters:outputCotangent:tangentCotangent:inputCotangent:timeCotangents:parameterGradient:rowWeights:)``
  ///   with ``keepsEveryCotangent`` ran last, on the current forward pass and JVP.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func keepLastJVPBackward(in kept: KeptJVPBackward<Scalar>) {
    precondition(
      backwardKeptEveryCotangent,
      "keepLastJVPBackward needs a JVP backward pass keeping every cotangent")
    keepLastPass(in: kept.pass)
    swap(&inputCotangents, &kept.inputCotangents)
    swap(&inputTangentCotangents, &kept.inputTangentCotangents)
    backwardKeptEveryCotangent = false
  }

  /// Adds the parameter gradient of rows `rows[0 ..< count]` of the kept
  /// passes (all of them, in order, when `rows` is nil), row `k` weighted by
  /// `rowWeights[k]`, into `parameterGradient`: every layer with parameters
  /// takes its kept operands and output cotangents again, without input
  /// cotangents. The sum is bitwise the one the JVP backward pass over just
  /// those rows, in that order, adds. `dy`, `dTangents` and `times` are the
  /// network's output cotangent, its tangents' and the times of those rows.
  /// `kept` stays as it was.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func replayJVPParameterGradient(
    of kept: KeptJVPBackward<Scalar>, outputCotangent dy: MatrixView<Scalar>,
    tangentCotangent dTangents: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    rows chosen: UnsafePointer<Int>?, count: Int, parameters: UnsafePointer<Scalar>,
    into parameterGradient: UnsafeMutablePointer<Scalar>, rowWeights: UnsafePointer<Scalar>?
  ) {
    let n = chosen == nil ? kept.rows : count
    precondition(dy.rows == n && dTangents.rows == n, "\(n) rows of output cotangents expected")
    if n == 0 { return }
    restorePass(kept.pass, rows: chosen, count: n)
    let k = directions
    // Layer l's output cotangent and its tangents': layer l + 1's input ones.
    func upstream(_ l: Int) -> (MatrixView<Scalar>, MatrixView<Scalar>) {
      if l == layers.count - 1 { return (dy, dTangents) }
      let width = layers[l + 1].inputSize
      var (bars, tangentBars) = (
        UnsafePointer(kept.inputCotangents[l + 1].base),
        UnsafePointer(kept.inputTangentCotangents[l + 1].base)
      )
      if let chosen {
        bars = UnsafePointer(
          kept.gathered.0.gather(rows: chosen, count: n, of: bars, columns: width))
        tangentBars = UnsafePointer(
          kept.gathered.1.gather(rows: chosen, count: n, of: tangentBars, columns: k * width))
      }
      return (
        MatrixView(base: bars, rows: n, columns: width),
        MatrixView(base: tangentBars, rows: n, columns: k * width)
      )
    }
    var l = layers.count - 1
    while l >= 0 {
      let first = jvpStepStart(endingAt: l)
      defer { l = first - 1 }
      guard layerHasParameters[first] else { continue }
      let (bars, tangentBars) = upstream(l)
      jvpBackwardStep(
        from: first, through: l, times: times, parameters: parameters, outputCotangent: bars,
        tangentCotangent: tangentBars, inputCotangent: nil, inputTangentCotangent: nil,
        timeCotangents: nil, parameterGradient: parameterGradient, rowWeights: rowWeights)
    }
    // All rows: the restored buffers go back to `kept`.
    if chosen == nil { keepLastPass(in: kept.pass) }
  }
}
