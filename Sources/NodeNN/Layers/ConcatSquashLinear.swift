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
    let g = gateScratch.reserve(n * out)
    let a = parameters + gateOffset
    let c = a + out
    for r in 0..<n {
      for o in 0..<out { g[r * out + o] = a[o] * times[r] + c[o] }
    }
    VectorMath.sigmoid(g, count: n * out)
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
      let row = y.row(r)
      for o in 0..<out { row[o] = h[r * out + o] * g[r * out + o] + d[o] * times[r] }
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
      let upstream = dy.row(r)
      for o in 0..<out { dh[r * out + o] = upstream[o] * g[r * out + o] }
    }
    linear.accumulateGradients(
      x, outputCotangent: MatrixView(base: dh, rows: n, columns: out), parameters: parameters,
      inputCotangent: dx, parameterGradient: parameterGradient, rowWeights: rowWeights)
    // ∂y/∂a = h g(1−g) t, ∂y/∂c = h g(1−g), ∂y/∂d = t, ∂y/∂t = h g(1−g) a + d.
    for r in 0..<n {
      let (upstream, output) = (dy.row(r), y.row(r))
      let t = times[r]
      let w = rowWeights?[r] ?? 1
      var timeCotangent: Scalar = 0
      for o in 0..<out {
        let i = r * out + o
        let slope = (output[o] - d[o] * t) * (1 - g[i])
        if let gradient = parameterGradient {
          let ga = gradient + gateOffset
          ga[o] += w * upstream[o] * slope * t
          ga[out + o] += w * upstream[o] * slope
          ga[2 * out + o] += w * upstream[o] * t
        }
        timeCotangent += upstream[o] * (slope * a[o] + d[o])
      }
      if let timeCotangents { timeCotangents[r] += timeCotangent }
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
      let row = outputTangents.row(r)
      for k in 0..<directions {
        for o in 0..<out { row[k * out + o] *= g[r * out + o] }
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
      let bar = dTangents.row(r)
      for i in 0..<k {
        for o in 0..<out { gated[(r * k + i) * out + o] = bar[i * out + o] * g[r * out + o] }
      }
    }
    linear.accumulateTangentGradients(
      inputTangents, rows: n, directions: k,
      tangentCotangent: MatrixView(base: gated, rows: n, columns: k * out), parameters: parameters,
      inputTangentCotangent: dInputTangents, parameterGradient: parameterGradient,
      rowWeights: rowWeights)
    // … and the gate sees Σ_k ẏ̄_k (W ẋ_k) = Σ_k ẏ̄_k ẏ_k / g.
    for r in 0..<n {
      let (bar, image) = (dTangents.row(r), outputTangents.row(r))
      let t = times[r]
      let w = rowWeights?[r] ?? 1
      var timeCotangent: Scalar = 0
      for o in 0..<out {
        let gate = g[r * out + o]
        var sum: Scalar = 0
        for i in 0..<k { sum += bar[i * out + o] * image[i * out + o] }
        // (W ẋ) g' = ẏ (1 − g): ∂ẏ/∂(a t + c) = ẏ (1 − g).
        let slope = sum * (1 - gate)
        if let gradient = parameterGradient {
          gradient[gateOffset + o] += w * slope * t
          gradient[gateOffset + out + o] += w * slope
        }
        timeCotangent += slope * a[o]
      }
      if let timeCotangents { timeCotangents[r] += timeCotangent }
    }
  }
}
