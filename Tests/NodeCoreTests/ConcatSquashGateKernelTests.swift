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
    }
  }

  /// The gradients of a, c, d and the time cotangents in `S`.
  static func run<S: TensorScalar>(
    _: S.Type, _ x: Inputs, outputPart: Bool, weighted: Bool
  ) -> (gradient: [S], time: [S]) {
    func cast(_ a: [Float]) -> [S] { a.map { S(Double($0)) } }
    let n = rows
    let k = max(1, x.directions)
    let (y, dy, images, bars) = (cast(x.y), cast(x.dy), cast(x.images), cast(x.bars))
    let (times, weights, a, d, g) = (
      cast(x.times), cast(x.weights), cast(x.a), cast(x.d), cast(x.g)
    )
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
                          if outputPart {
                            p.output = MatrixView(base: yp.baseAddress!, rows: n, columns: x.width)
                            p.outputCotangent = MatrixView(
                              base: dyp.baseAddress!, rows: n, columns: x.width)
                          }
                          if x.directions > 0 {
                            p.directions = x.directions
                            p.tangents = MatrixView(
                              base: ip.baseAddress!, rows: n, columns: k * x.width)
                            p.tangentCotangents = MatrixView(
                              base: bp.baseAddress!, rows: n, columns: k * x.width)
                          }
                          p.rowWeights = weighted ? wp.baseAddress! : nil
                          p.gradient = gradp.baseAddress!
                          p.timeCotangents = timep.baseAddress!
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
    return (gradient, time)
  }

  static func worst<S: TensorScalar>(_ a: [Float], _ b: [S]) -> Double {
    zip(a, b).map { abs(Double($0) - Double($1)) }.max() ?? 0
  }

  @Test(arguments: [64, 13, 2])
  func matchesDouble(width: Int) {
    for directions in [0, 1, 2] {
      let inputs = Inputs(width: width, directions: directions)
      for (outputPart, weighted) in [(true, false), (true, true), (false, true)] {
        guard outputPart || directions > 0 else { continue }
        let f = Self.run(Float.self, inputs, outputPart: outputPart, weighted: weighted)
        let d = Self.run(Double.self, inputs, outputPart: outputPart, weighted: weighted)
        let label =
          "width \(width) directions \(directions) output \(outputPart) weighted \(weighted)"
        #expect(Self.worst(f.gradient, d.gradient) < 1e-4, "\(label)")
        #expect(Self.worst(f.time, d.time) < 1e-4, "\(label)")
      }
    }
  }
}
