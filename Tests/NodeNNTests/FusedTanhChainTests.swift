import NodeCore
import Testing

@testable import NodeNN

/// ``Sequential`` runs a concat-squash layer and the tanh after it as one
/// step of its forward pass, its JVP and the JVP's backward pass: the
/// chain's pair product against finite differences (Double) and against the
/// same layers run one by one (Float).
@Suite struct FusedTanhChainTests {
  static let rows = 5
  static let directions = 2

  /// Concat-squash `2 → width → width → 2` with tanh between, in `S`.
  static func network<S: TensorScalar>(_: S.Type, width: Int) -> Sequential<S> {
    Sequential(
      [
        ConcatSquashLinear(inputs: 2, outputs: width), ElementwiseActivation(.tanh, size: width),
        ConcatSquashLinear(inputs: width, outputs: width),
        ElementwiseActivation(.tanh, size: width), ConcatSquashLinear(inputs: width, outputs: 2),
      ],
      names: ["layers.0", nil, "layers.1", nil, "layers.2"])
  }

  /// The inputs of one pair product, drawn in Double.
  struct Operands {
    let x, v, t, p, dy, dTangents, weights: [Double]

    init(parameterCount: Int) {
      let (n, k) = (FusedTanhChainTests.rows, FusedTanhChainTests.directions)
      func values(_ count: Int, _ seed: UInt64, _ scale: Double = 1) -> [Double] {
        LayerGradientTests.values(count, seed: seed).map { $0 * scale }
      }
      (x, v, t) = (values(n * 2, 31), values(n * k * 2, 32), values(n, 33))
      p = values(parameterCount, 34, 0.6)
      (dy, dTangents) = (values(n * 2, 35), values(n * k * 2, 36))
      weights = values(n, 37)
    }
  }

  /// `x̄`, `t̄` and the row-weighted `θ̄` of `Φ = Σ ȳ·y + Σ ẏ̄·ẏ`, through the
  /// chain (`layerByLayer == false`) or through each layer's own product.
  static func pairGradients<S: TensorScalar>(
    _ net: Sequential<S>, _ o: Operands, layerByLayer: Bool
  ) -> (y: [S], tangents: [S], dx: [S], dt: [S], dp: [S]) {
    let (n, k) = (rows, directions)
    func cast(_ a: [Double]) -> [S] { a.map { S($0) } }
    let (x, v, t, p) = (cast(o.x), cast(o.v), cast(o.t), cast(o.p))
    let (dy, dTangents, weights) = (cast(o.dy), cast(o.dTangents), cast(o.weights))
    var tangents = [S](repeating: 0, count: n * k * 2)
    let y = net.forward(x, rows: n, times: t, parameters: p)
    v.withUnsafeBufferPointer { vp in
      tangents.withUnsafeMutableBufferPointer { tp in
        net.jvp(
          times: t, parameters: p,
          inputTangents: MatrixView(base: vp.baseAddress!, rows: n, columns: k * 2),
          directions: k, into: MutableMatrixView(base: tp.baseAddress!, rows: n, columns: k * 2))
      }
    }
    var dx = [S](repeating: 0, count: n * 2)
    var dt = [S](repeating: 0, count: n)
    var dp = [S](repeating: 0, count: p.count)
    if !layerByLayer {
      dy.withUnsafeBufferPointer { dyp in
        dTangents.withUnsafeBufferPointer { dtp in
          dx.withUnsafeMutableBufferPointer { dxp in
            net.jvpBackward(
              times: t, parameters: p,
              outputCotangent: MatrixView(base: dyp.baseAddress!, rows: n, columns: 2),
              tangentCotangent: MatrixView(base: dtp.baseAddress!, rows: n, columns: k * 2),
              inputCotangent: MutableMatrixView(base: dxp.baseAddress!, rows: n, columns: 2),
              timeCotangents: &dt, parameterGradient: &dp, rowWeights: weights)
          }
        }
      }
      return (y, tangents, dx, dt, dp)
    }
    // Each layer's own jvpBackward, last to first, on the chain's recorded
    // forward and JVP passes (the layers' inputs are recomputed here).
    var inputs: [[S]] = [x]
    var tangentInputs: [[S]] = [v]
    for layer in net.layers {
      let (a, b) = runLayer(layer, inputs.last!, tangentInputs.last!, t: t, p: p, net: net)
      inputs.append(a)
      tangentInputs.append(b)
    }
    var upstream = dy
    var upstreamTangents = dTangents
    for l in stride(from: net.layers.count - 1, through: 0, by: -1) {
      let layer = net.layers[l] as! any TangentDifferentiableLayer<S>
      let (inSize, outSize) = (layer.inputSize, layer.outputSize)
      var bar = [S](repeating: 0, count: n * inSize)
      var tangentBar = [S](repeating: 0, count: n * k * inSize)
      let offset = net.parameterOffsets[l]
      func view(_ a: UnsafeBufferPointer<S>, _ columns: Int) -> MatrixView<S> {
        MatrixView(base: a.baseAddress!, rows: n, columns: columns)
      }
      inputs[l].withUnsafeBufferPointer { xp in
        inputs[l + 1].withUnsafeBufferPointer { yp in
          tangentInputs[l].withUnsafeBufferPointer { vp in
            tangentInputs[l + 1].withUnsafeBufferPointer { tp in
              upstream.withUnsafeBufferPointer { dyp in
                upstreamTangents.withUnsafeBufferPointer { dtp in
                  bar.withUnsafeMutableBufferPointer { bp in
                    tangentBar.withUnsafeMutableBufferPointer { tbp in
                      p.withUnsafeBufferPointer { pp in
                        dp.withUnsafeMutableBufferPointer { gp in
                          layer.jvpBackward(
                            view(xp, inSize), output: view(yp, outSize), times: t,
                            parameters: pp.baseAddress! + offset,
                            inputTangents: view(vp, k * inSize),
                            outputTangents: view(tp, k * outSize), directions: k,
                            outputCotangent: view(dyp, outSize),
                            tangentCotangent: view(dtp, k * outSize),
                            inputCotangent: MutableMatrixView(
                              base: bp.baseAddress!, rows: n, columns: inSize),
                            inputTangentCotangent: MutableMatrixView(
                              base: tbp.baseAddress!, rows: n, columns: k * inSize),
                            timeCotangents: &dt, parameterGradient: gp.baseAddress! + offset,
                            rowWeights: weights)
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
      (upstream, upstreamTangents) = (bar, tangentBar)
    }
    return (inputs.last!, tangentInputs.last!, upstream, dt, dp)
  }

  /// One layer's forward and JVP on flat arrays.
  static func runLayer<S: TensorScalar>(
    _ layer: any Layer<S>, _ x: [S], _ v: [S], t: [S], p: [S], net: Sequential<S>
  ) -> ([S], [S]) {
    let (n, k) = (rows, directions)
    let offset = net.parameterOffsets[net.layers.firstIndex { $0 === layer }!]
    var y = [S](repeating: 0, count: n * layer.outputSize)
    var tangents = [S](repeating: 0, count: n * k * layer.outputSize)
    x.withUnsafeBufferPointer { xp in
      v.withUnsafeBufferPointer { vp in
        y.withUnsafeMutableBufferPointer { yp in
          tangents.withUnsafeMutableBufferPointer { tp in
            p.withUnsafeBufferPointer { pp in
              let xv = MatrixView(base: xp.baseAddress!, rows: n, columns: layer.inputSize)
              layer.forward(
                xv, times: t, parameters: pp.baseAddress! + offset,
                into: MutableMatrixView(base: yp.baseAddress!, rows: n, columns: layer.outputSize))
              layer.jvp(
                xv, output: MatrixView(base: yp.baseAddress!, rows: n, columns: layer.outputSize),
                times: t, parameters: pp.baseAddress! + offset,
                inputTangents: MatrixView(
                  base: vp.baseAddress!, rows: n, columns: k * layer.inputSize),
                directions: k,
                into: MutableMatrixView(
                  base: tp.baseAddress!, rows: n, columns: k * layer.outputSize))
            }
          }
        }
      }
    }
    return (y, tangents)
  }

  /// `Φ` with the rows weighted or not.
  static func phi(
    _ net: Sequential<Double>, _ o: Operands, x: [Double], t: [Double], p: [Double], weighted: Bool
  )
    -> Double
  {
    let (n, k) = (rows, directions)
    let y = net.forward(x, rows: n, times: t, parameters: p)
    var tangents = [Double](repeating: 0, count: n * k * 2)
    o.v.withUnsafeBufferPointer { vp in
      tangents.withUnsafeMutableBufferPointer { tp in
        net.jvp(
          times: t, parameters: p,
          inputTangents: MatrixView(base: vp.baseAddress!, rows: n, columns: k * 2),
          directions: k, into: MutableMatrixView(base: tp.baseAddress!, rows: n, columns: k * 2))
      }
    }
    var sum = 0.0
    for r in 0..<n {
      let w = weighted ? o.weights[r] : 1
      for i in 0..<2 { sum += w * o.dy[r * 2 + i] * y[r * 2 + i] }
      for i in 0..<(k * 2) { sum += w * o.dTangents[r * k * 2 + i] * tangents[r * k * 2 + i] }
    }
    return sum
  }

  @Test func chainPairProductMatchesFiniteDifferences() {
    let net = Self.network(Double.self, width: 9)
    let o = Operands(parameterCount: net.parameterCount)
    let g = Self.pairGradients(net, o, layerByLayer: false)
    var worst = 0.0
    func compare(_ a: Double, _ f: (Double) -> Double) {
      let fd = LayerGradientTests.fourPoint(f)
      worst = max(worst, abs(a - fd) / max(abs(fd), 1e-3))
    }
    for i in 0..<o.x.count {
      compare(g.dx[i]) { h in
        var m = o.x
        m[i] += h
        return Self.phi(net, o, x: m, t: o.t, p: o.p, weighted: false)
      }
    }
    for r in 0..<Self.rows {
      compare(g.dt[r]) { h in
        var m = o.t
        m[r] += h
        return Self.phi(net, o, x: o.x, t: m, p: o.p, weighted: false)
      }
    }
    for j in 0..<o.p.count {
      compare(g.dp[j]) { h in
        var m = o.p
        m[j] += h
        return Self.phi(net, o, x: o.x, t: o.t, p: m, weighted: true)
      }
    }
    #expect(worst < 1e-7, "worst relative error \(worst)")
  }

  /// The fused step does the layers' arithmetic operation for operation: in
  /// Float (the AVX2 kernels) the chain equals the layers run one by one
  /// bitwise; in Double (portable loops, the tanh's `σ''` written
  /// differently) to rounding.
  @Test(arguments: [64, 13, 5])  // 5: a concat-squash layer too narrow for the wide kernel
  func fusedStepEqualsTheLayersOneByOne(width: Int) {
    let float = Self.network(Float.self, width: width)
    let o = Operands(parameterCount: float.parameterCount)
    let fused = Self.pairGradients(float, o, layerByLayer: false)
    let separate = Self.pairGradients(float, o, layerByLayer: true)
    if DenseKernelSupport.available {
      #expect(fused.y == separate.y)
      #expect(fused.tangents == separate.tangents)
      #expect(fused.dx == separate.dx)
      #expect(fused.dt == separate.dt)
      #expect(fused.dp == separate.dp)
    }
    let double = Self.network(Double.self, width: width)
    let a = Self.pairGradients(double, o, layerByLayer: false)
    let b = Self.pairGradients(double, o, layerByLayer: true)
    func worst(_ u: [Double], _ v: [Double]) -> Double {
      zip(u, v).map { abs($0 - $1) / max(abs($1), 1) }.max() ?? 0
    }
    #expect(worst(a.y, b.y) < 1e-12)
    #expect(worst(a.tangents, b.tangents) < 1e-12)
    #expect(worst(a.dx, b.dx) < 1e-12)
    #expect(worst(a.dt, b.dt) < 1e-12)
    #expect(worst(a.dp, b.dp) < 1e-12)
    // Float against Double: the same products.
    #expect(worst(fused.dp.map(Double.init), a.dp) < 1e-3)
  }
}
