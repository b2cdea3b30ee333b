import Foundation
import NodeCore
import Testing

/// The concat-squash gate's backward kernel: the Float path (AVX2 where available)
/// against the portable Double loops on the same inputs.
@Suite struct ConcatSquashGateKernelTests {
  static let rows = 9

  static func values(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    TangentKernelTests.values(count, seed: seed, scale: scale)
  }

  /// Every input of the gate's passes, in Float.
  struct Inputs {
    let width: Int
    let directions: Int
    let y, dy, images, bars, times, weights, a, d: [Float]
    let g: [Float]
    /// A tanh's outputs after the layer, in (−1, 1).
    let activated: [Float]

    init(width: Int, directions: Int) {
      self.width = width
      self.directions = directions
      let n = ConcatSquashGateKernelTests.rows
      func v(_ count: Int, _ seed: UInt64, _ scale: Float = 1) -> [Float] {
        ConcatSquashGateKernelTests.values(count, seed: seed, scale: scale)
      }
      (y, dy) = (v(n * width, 1), v(n * width, 2))
      images = v(n * max(1, directions) * width, 4)
      bars = v(n * max(1, directions) * width, 5)
      times = v(n, 6, 0.3)
      weights = v(n, 7)
      (a, d) = (v(width, 8), v(width, 9))
      g = v(n * width, 10).map { 1 / (1 + exp(-$0)) }
      activated = v(n * width, 13).map { tanh($0) }
    }
  }

  /// What the kernel writes besides the gate's gradients: `ȳ ⊙ g`, `ẏ̄ ⊙ g`,
  /// their weighted copies and the linear map's bias gradient, concatenated.
  struct Outputs<S: TensorScalar> {
    let gated, weightedGated, tangentGated, weightedTangentGated,
      bias: UnsafeMutableBufferPointer<S>

    init(rows: Int, width: Int, directions: Int) {
      func buffer(_ count: Int) -> UnsafeMutableBufferPointer<S> {
        let b = UnsafeMutableBufferPointer<S>.allocate(capacity: count)
        b.initialize(repeating: S(Double(-7)))
        return b
      }
      let k = max(1, directions)
      (gated, weightedGated) = (buffer(rows * width), buffer(rows * width))
      (tangentGated, weightedTangentGated) = (buffer(rows * k * width), buffer(rows * k * width))
      bias = buffer(width)
      bias.update(repeating: S(Double(0.25)))
    }

    var all: [S] {
      Array(gated) + Array(weightedGated) + Array(tangentGated) + Array(weightedTangentGated)
        + Array(bias)
    }

    func deallocate() {
      for b in [gated, weightedGated, tangentGated, weightedTangentGated, bias] { b.deallocate() }
    }
  }

  /// The gradients of a, c, d, the time cotangents and the other outputs in `S`.
  static func run<S: TensorScalar>(
    _: S.Type, _ x: Inputs, outputPart: Bool, weighted: Bool, throughTanh: Bool = false,
    parameterGradients: Bool = true, weightedCopies: Bool = true
  ) -> (gradient: [S], time: [S], outputs: [S]) {
    let outputs = Outputs<S>(rows: rows, width: x.width, directions: x.directions)
    defer { outputs.deallocate() }
    func cast(_ a: [Float]) -> [S] { a.map { S(Double($0)) } }
    let n = rows
    let k = max(1, x.directions)
    let (y, dy, images, bars) = (cast(x.y), cast(x.dy), cast(x.images), cast(x.bars))
    let (times, weights, a, d, g) = (
      cast(x.times), cast(x.weights), cast(x.a), cast(x.d), cast(x.g)
    )
    let activated = cast(x.activated)
    var gradient = cast(values(3 * x.width, seed: 11))
    var time = cast(values(n, seed: 12))
    y.withUnsafeBufferPointer { yp in
      dy.withUnsafeBufferPointer { dyp in
        images.withUnsafeBufferPointer { ip in
          bars.withUnsafeBufferPointer { bp in
            g.withUnsafeBufferPointer { gp in
              times.withUnsafeBufferPointer { tp in
                weights.withUnsafeBufferPointer { wp in
                  a.withUnsafeBufferPointer { ap in
                    d.withUnsafeBufferPointer { dp in
                      gradient.withUnsafeMutableBufferPointer { gradp in
                        time.withUnsafeMutableBufferPointer { timep in
                          var p = ConcatSquashGateKernels.Backward(
                            rows: n, width: x.width, gate: gp.baseAddress!,
                            times: tp.baseAddress!, gateWeight: ap.baseAddress!,
                            timeWeight: dp.baseAddress!)
                          func out(_ b: UnsafeMutableBufferPointer<S>, _ columns: Int)
                            -> MutableMatrixView<S>
                          {
                            MutableMatrixView(base: b.baseAddress!, rows: n, columns: columns)
                          }
                          if outputPart {
                            p.output = MatrixView(base: yp.baseAddress!, rows: n, columns: x.width)
                            p.outputCotangent = MatrixView(
                              base: dyp.baseAddress!, rows: n, columns: x.width)
                            p.gatedOutputCotangent = out(outputs.gated, x.width)
                            if parameterGradients && weightedCopies {
                              p.weightedGatedOutputCotangent = out(outputs.weightedGated, x.width)
                            }
                          }
                          if x.directions > 0 {
                            p.directions = x.directions
                            p.tangents = MatrixView(
                              base: ip.baseAddress!, rows: n, columns: k * x.width)
                            p.tangentCotangents = MatrixView(
                              base: bp.baseAddress!, rows: n, columns: k * x.width)
                            p.gatedTangentCotangents = out(outputs.tangentGated, k * x.width)
                            if parameterGradients && weightedCopies {
                              p.weightedGatedTangentCotangents = out(
                                outputs.weightedTangentGated, k * x.width)
                            }
                          }
                          p.rowWeights = weighted ? wp.baseAddress! : nil
                          if parameterGradients {
                            p.gradient = gradp.baseAddress!
                            p.biasGradient = outputs.bias.baseAddress!
                          }
                          p.timeCotangents = timep.baseAddress!
                          activated.withUnsafeBufferPointer { act in
                            if throughTanh {
                              p.activatedOutput = MatrixView(
                                base: act.baseAddress!, rows: n, columns: x.width)
                            }
                            ConcatSquashGateKernels.backward(p)
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
      }
    }
    return (gradient, time, outputs.all)
  }

  static func worst<S: TensorScalar>(_ a: [Float], _ b: [S]) -> Double {
    zip(a, b).map { abs(Double($0) - Double($1)) }.max() ?? 0
  }

  /// Every specialisation of the kernel (with and without the tanh and the
  /// output cotangent; 0, 1, 2 and 3 directions) against the portable Double loops.
  @Test(arguments: [64, 13, 2])
  func matchesDouble(width: Int) {
    for directions in [0, 1, 2, 3] {
      let inputs = Inputs(width: width, directions: directions)
      for (outputPart, weighted, tanh) in [
        (true, false, false), (true, true, false), (false, true, false), (true, true, true),
        (false, true, true), (true, false, true),
      ] {
        guard outputPart || directions > 0 else { continue }
        let f = Self.run(
          Float.self, inputs, outputPart: outputPart, weighted: weighted, throughTanh: tanh)
        let d = Self.run(
          Double.self, inputs, outputPart: outputPart, weighted: weighted, throughTanh: tanh)
        let label =
          "width \(width) directions \(directions) output \(outputPart) weighted \(weighted) tanh \(tanh)"
        if !outputPart {
          // No output cotangent: the linear map's bias gradient is left alone.
          #expect(f.outputs.suffix(width).allSatisfy { $0 == 0.25 }, "\(label)")
        }
        #expect(Self.worst(f.gradient, d.gradient) < 1e-4, "\(label)")
        #expect(Self.worst(f.time, d.time) < 1e-4, "\(label)")
        #expect(Self.worst(f.outputs, d.outputs) < 1e-5, "\(label)")
      }
    }
  }

  /// A stage that adds nothing to the parameter gradient: the gated
  /// cotangents and time cotangents alone (the kernel's own specialisation),
  /// and nothing else written.
  @Test(arguments: [64, 13])
  func gatedCotangentsAlone(width: Int) {
    for directions in [0, 2, 3] {
      let inputs = Inputs(width: width, directions: directions)
      for tanh in [false, true] {
        let f = Self.run(
          Float.self, inputs, outputPart: true, weighted: true, throughTanh: tanh,
          parameterGradients: false)
        let d = Self.run(
          Double.self, inputs, outputPart: true, weighted: true, throughTanh: tanh,
          parameterGradients: false)
        let label = "width \(width) directions \(directions) tanh \(tanh)"
        #expect(Self.worst(f.time, d.time) < 1e-4, "\(label)")
        #expect(Self.worst(f.outputs, d.outputs) < 1e-5, "\(label)")
        let untouched = Self.values(3 * width, seed: 11)
        #expect(f.gradient == untouched, "\(label)")
        let (n, k) = (Self.rows, max(1, directions))
        #expect(f.outputs[(n * width)..<(2 * n * width)].allSatisfy { $0 == -7 }, "\(label)")
        let weightedTangents = (2 * n * width + n * k * width)..<(2 * n * width + 2 * n * k * width)
        #expect(f.outputs[weightedTangents].allSatisfy { $0 == -7 }, "\(label)")
        #expect(f.outputs.suffix(width).allSatisfy { $0 == 0.25 }, "\(label)")
      }
    }
  }

  /// A backprop's stage: the parameter and bias gradients and the gated
  /// cotangents without weighted copies (the kernel's own specialisation),
  /// the copies' buffers left alone.
  @Test(arguments: [64, 13])
  func gradientsWithoutWeightedCopies(width: Int) {
    for directions in [0, 2, 3] {
      let inputs = Inputs(width: width, directions: directions)
      for tanh in [false, true] {
        let f = Self.run(
          Float.self, inputs, outputPart: true, weighted: false, throughTanh: tanh,
          weightedCopies: false)
        let d = Self.run(
          Double.self, inputs, outputPart: true, weighted: false, throughTanh: tanh,
          weightedCopies: false)
        let label = "width \(width) directions \(directions) tanh \(tanh)"
        #expect(Self.worst(f.gradient, d.gradient) < 1e-4, "\(label)")
        #expect(Self.worst(f.time, d.time) < 1e-4, "\(label)")
        let (n, k) = (Self.rows, max(1, directions))
        let gated = Array(f.outputs[0..<(n * width)])
        #expect(Self.worst(gated, Array(d.outputs[0..<(n * width)])) < 1e-5, "\(label)")
        #expect(f.outputs[(n * width)..<(2 * n * width)].allSatisfy { $0 == -7 }, "\(label)")
        if directions > 0 {
          let tangents = (2 * n * width)..<(2 * n * width + n * k * width)
          #expect(
            Self.worst(Array(f.outputs[tangents]), Array(d.outputs[tangents])) < 1e-5, "\(label)")
          let copies = (2 * n * width + n * k * width)..<(2 * n * width + 2 * n * k * width)
          #expect(f.outputs[copies].allSatisfy { $0 == -7 }, "\(label)")
        }
        let bias = f.outputs.suffix(width)
        #expect(Self.worst(Array(bias), Array(d.outputs.suffix(width))) < 1e-4, "\(label)")
        #expect(bias.contains { $0 != 0.25 }, "\(label)")
      }
    }
  }

  /// Without row weights the weighted copies are the gated cotangents
  /// themselves, bit for bit (times 1), and the bias gradient is their sum.
  @Test func unweightedCopiesEqualTheGatedCotangents() {
    let inputs = Inputs(width: 13, directions: 2)
    let f = Self.run(Float.self, inputs, outputPart: true, weighted: false).outputs
    let (n, w, k) = (Self.rows, 13, 2)
    #expect(Array(f[0..<(n * w)]) == Array(f[(n * w)..<(2 * n * w)]))
    let tangents = 2 * n * w
    #expect(
      Array(f[tangents..<(tangents + n * k * w)])
        == Array(f[(tangents + n * k * w)..<(tangents + 2 * n * k * w)]))
    for o in 0..<w {
      var sum: Float = 0.25
      for r in 0..<n { sum += f[r * w + o] }
      #expect(f[tangents + 2 * n * k * w + o] == sum)
    }
  }

  /// The gate `σ(a t + c)`: the Float kernel is the product, the sum and
  /// ``VectorMath``'s sigmoid, bit for bit, and close to Double.
  @Test(arguments: [64, 13, 2])
  func gateIsTheProductSumAndSigmoid(width: Int) {
    let (n, times, a, c) = (
      Self.rows, Self.values(Self.rows, seed: 21, scale: 3), Self.values(width, seed: 22, scale: 4),
      Self.values(width, seed: 23, scale: 2)
    )
    var kernel = [Float](repeating: 0, count: n * width)
    ConcatSquashGateKernels.gate(
      times: times, gateWeight: a, gateBias: c, rows: n, width: width, into: &kernel)
    var expected = [Float](repeating: 0, count: n * width)
    for r in 0..<n { for o in 0..<width { expected[r * width + o] = a[o] * times[r] + c[o] } }
    VectorMath.sigmoid(&expected, count: n * width)
    #expect(kernel == expected)
    var double = [Double](repeating: 0, count: n * width)
    ConcatSquashGateKernels.gate(
      times: times.map(Double.init), gateWeight: a.map(Double.init), gateBias: c.map(Double.init),
      rows: n, width: width, into: &double)
    #expect(Self.worst(kernel, double) < 1e-6)
  }
}
