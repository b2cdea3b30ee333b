import NodeCore
import RealModule

/// FFJORD's concat-squash layer `y = (W x + b) ⊙ σ(a t + c) + d t`: a linear
/// map gated and shifted by the time. Parameters, in order: `weight`
/// `[out, in]`, `bias` `[out]`, `gate_weight` (a) `[out]`, `gate_bias` (c)
/// `[out]`, `time_weight` (d) `[out]` — the names of WORKLOADS.md's W1 files.
public final class ConcatSquashLinear<Scalar: TensorScalar>: TangentDifferentiableLayer {
  let linear: Linear<Scalar>
  private let affineScratch = ScratchBuffer<Scalar>()
  private let gateScratch = ScratchBuffer<Scalar>()
  private let cotangentScratch = ScratchBuffer<Scalar>()
  private let tangentScratch = ScratchBuffer<Scalar>()
  private let slopeScratch = ScratchBuffer<Scalar>()
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
    // Row pointers and wrapping index arithmetic: loops that vectorise.
    for r in 0..<n {
      let (row, t) = (g + r &* out, times[r])
      for o in 0..<out { row[o] = a[o] * t + c[o] }
    }
    VectorMath.sigmoid(g, count: n * out)
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
    let n = x.rows
    let out = outputSize
    let h = affineScratch.reserve(n * out)
    linear.forward(
      x, times: times, parameters: parameters,
      into: MutableMatrixView(base: h, rows: n, columns: out))
    let g = gate(rows: n, times: times, parameters: parameters)
    let d = parameters + gateOffset + 2 * out
    for r in 0..<n {
      let (row, hr, gr, t) = (y.row(r), h + r &* out, g + r &* out, times[r])
      for o in 0..<out { row[o] = hr[o] * gr[o] + d[o] * t }
    }
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func backward(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, outputCotangent dy: MatrixView<Scalar>,
    inputCotangent dx: MutableMatrixView<Scalar>?, timeCotangents: UnsafeMutablePointer<Scalar>?,
    parameterGradient: UnsafeMutablePointer<Scalar>?, rowWeights: UnsafePointer<Scalar>?
  ) {
    let g = gate(rows: x.rows, times: times, parameters: parameters)
    backward(
      x, output: y, gate: g, times: times, parameters: parameters, outputCotangent: dy,
      inputCotangent: dx, timeCotangents: timeCotangents, parameterGradient: parameterGradient,
      rowWeights: rowWeights)
  }

  /// The backward pass with the gate already computed. `h g = y − d t`, so
  /// the gate's slope `h g (1 − g)` comes from the output without re-running
  /// the linear map.
  private func backward(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, gate g: UnsafePointer<Scalar>,
    times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
    outputCotangent dy: MatrixView<Scalar>, inputCotangent dx: MutableMatrixView<Scalar>?,
    timeCotangents: UnsafeMutablePointer<Scalar>?, parameterGradient: UnsafeMutablePointer<Scalar>?,
    rowWeights: UnsafePointer<Scalar>?
  ) {
    let n = x.rows
    let out = outputSize
    let a = parameters + gateOffset
    let d = a + 2 * out
    // dh = dy ⊙ g goes through the linear map.
    let dh = cotangentScratch.reserve(n * out)
    for r in 0..<n {
      let (upstream, dhr, gr) = (dy.row(r), dh + r &* out, g + r &* out)
      for o in 0..<out { dhr[o] = upstream[o] * gr[o] }
    }
    linear.accumulateGradients(
      x, outputCotangent: MatrixView(base: dh, rows: n, columns: out), parameters: parameters,
      inputCotangent: dx, parameterGradient: parameterGradient, rowWeights: rowWeights)
    // ∂y/∂a = h g(1−g) t, ∂y/∂c = h g(1−g), ∂y/∂d = t, ∂y/∂t = h g(1−g) a + d.
    let gradientA = parameterGradient.map { $0 + gateOffset }
    let slopes = slopeScratch.reserve(out)
    for r in 0..<n {
      let (upstream, output, gr) = (dy.row(r), y.row(r), g + r &* out)
      let t = times[r]
      let w = rowWeights?[r] ?? 1
      // ȳ ⊙ h g(1 − g), with h g = y − d t.
      for o in 0..<out { slopes[o] = upstream[o] * (output[o] - d[o] * t) * (1 - gr[o]) }
      if let ga = gradientA {
        let (gc, gd) = (ga + out, ga + 2 &* out)
        for o in 0..<out {
          ga[o] += w * slopes[o] * t
          gc[o] += w * slopes[o]
          gd[o] += w * upstream[o] * t
        }
      }
      if let timeCotangents {
        var timeCotangent: Scalar = 0
        for o in 0..<out { timeCotangent += slopes[o] * a[o] + upstream[o] * d[o] }
        timeCotangents[r] += timeCotangent
      }
    }
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func jvp(
    _ x: MatrixView<Scalar>, output y: MatrixView<Scalar>, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, inputTangents: MatrixView<Scalar>, directions: Int,
    into outputTangents: MutableMatrixView<Scalar>
  ) {
    let out = outputSize
    let g = gate(rows: x.rows, times: times, parameters: parameters)
    linear.jvp(
      x, output: y, times: times, parameters: parameters, inputTangents: inputTangents,
      directions: directions, into: outputTangents)
    for r in 0..<x.rows {
      let gr = g + r &* out
      for k in 0..<directions {
        let row = outputTangents.row(r) + k &* out
        for o in 0..<out { row[o] *= gr[o] }
      }
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
    let n = x.rows
    let out = outputSize
    let k = directions
    // The ordinary part: y's cotangent through the layer, gate and time included.
    let g = gate(rows: n, times: times, parameters: parameters)
    backward(
      x, output: y, gate: g, times: times, parameters: parameters, outputCotangent: dy,
      inputCotangent: dx, timeCotangents: timeCotangents, parameterGradient: parameterGradient,
      rowWeights: rowWeights)
    let a = parameters + gateOffset
    // ẏ_k = (W ẋ_k) g: the linear map sees ẏ̄_k ⊙ g …
    let gated = tangentScratch.reserve(n * k * out)
    for r in 0..<n {
      let gr = g + r &* out
      for i in 0..<k {
        let (bar, target) = (dTangents.row(r) + i &* out, gated + (r &* k &+ i) &* out)
        for o in 0..<out { target[o] = bar[o] * gr[o] }
      }
    }
    linear.accumulateTangentGradients(
      inputTangents, rows: n, directions: k,
      tangentCotangent: MatrixView(base: gated, rows: n, columns: k * out), parameters: parameters,
      inputTangentCotangent: dInputTangents, parameterGradient: parameterGradient,
      rowWeights: rowWeights)
    // … and the gate sees Σ_k ẏ̄_k (W ẋ_k) = Σ_k ẏ̄_k ẏ_k / g.
    let slopes = slopeScratch.reserve(out)
    let gradientA = parameterGradient.map { $0 + gateOffset }
    for r in 0..<n {
      let gr = g + r &* out
      let t = times[r]
      let w = rowWeights?[r] ?? 1
      // (W ẋ) g' = ẏ (1 − g): ∂ẏ/∂(a t + c) = ẏ (1 − g), summed over directions.
      for o in 0..<out { slopes[o] = 0 }
      for i in 0..<k {
        let (bar, image) = (dTangents.row(r) + i &* out, outputTangents.row(r) + i &* out)
        for o in 0..<out { slopes[o] += bar[o] * image[o] }
      }
      for o in 0..<out { slopes[o] *= 1 - gr[o] }
      if let ga = gradientA {
        let gc = ga + out
        for o in 0..<out {
          ga[o] += w * slopes[o] * t
          gc[o] += w * slopes[o]
        }
      }
      if let timeCotangents {
        var timeCotangent: Scalar = 0
        for o in 0..<out { timeCotangent += slopes[o] * a[o] }
        timeCotangents[r] += timeCotangent
      }
    }
  }
}
