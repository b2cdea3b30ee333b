import NodeCore
import Testing

@testable import NodeNN

/// Forward passes against direct formulas (the gradient tests check the
/// derivatives of whatever the forward computes; these check the forward).
@Suite struct LayerForwardTests {
  static func run(_ layer: any Layer<Double>, x: [Double], t: [Double], p: [Double], rows: Int)
    -> [Double]
  {
    var y = [Double](repeating: 0, count: rows * layer.outputSize)
    x.withUnsafeBufferPointer { xp in
      y.withUnsafeMutableBufferPointer { yp in
        layer.forward(
          MatrixView(base: xp.baseAddress!, rows: rows, columns: layer.inputSize), times: t,
          parameters: p.isEmpty ? [0] : p,
          into: MutableMatrixView(base: yp.baseAddress!, rows: rows, columns: layer.outputSize))
      }
    }
    return y
  }

  /// PyTorch's cross-correlation: `y[o, i, j] = b[o] + Σ_{c,u,v} W[o, c, u, v] x[c, i s − p + u, j s − p + v]`.
  @Test func convolutionIsPyTorchsCrossCorrelation() {
    let g = ConvolutionGeometry(
      inputChannels: 2, outputChannels: 3, kernel: (4, 3), stride: 2, padding: 1, input: (7, 6))
    let layer = Conv2d<Double>(g)
    let x = LayerGradientTests.values(2 * g.inputSize, seed: 31)
    let p = LayerGradientTests.values(layer.parameterCount, seed: 32)
    let y = Self.run(layer, x: x, t: [0, 0], p: p, rows: 2)
    var worst = 0.0
    for s in 0..<2 {
      for o in 0..<3 {
        for i in 0..<g.outputHeight {
          for j in 0..<g.outputWidth {
            var sum = p[3 * 2 * 4 * 3 + o]
            for c in 0..<2 {
              for u in 0..<4 {
                for v in 0..<3 {
                  let (row, column) = (i * 2 - 1 + u, j * 2 - 1 + v)
                  guard row >= 0 && row < 7 && column >= 0 && column < 6 else { continue }
                  sum +=
                    p[((o * 2 + c) * 4 + u) * 3 + v]
                    * x[s * g.inputSize + (c * 7 + row) * 6 + column]
                }
              }
            }
            let value = y[s * g.outputSize + (o * g.outputHeight + i) * g.outputWidth + j]
            worst = max(worst, abs(value - sum))
          }
        }
      }
    }
    #expect(g.outputHeight == 3 && g.outputWidth == 3)
    #expect(worst < 1e-12)
  }

  @Test func concatTimeConvolutionPutsTimeInChannelZero() {
    let g = ConvolutionGeometry(
      inputChannels: 3, outputChannels: 2, kernel: (3, 3), padding: 1, input: (4, 4))
    let layer = ConcatTimeConv2d<Double>(g)
    let plain = Conv2d<Double>(g)
    let x = LayerGradientTests.values(layer.inputSize, seed: 33)
    let p = LayerGradientTests.values(layer.parameterCount, seed: 34)
    let withTime = [Double](repeating: 0.7, count: 16) + x
    #expect(
      Self.run(layer, x: x, t: [0.7], p: p, rows: 1)
        == Self.run(plain, x: withTime, t: [0.7], p: p, rows: 1))
  }

  @Test func groupNormNormalisesEachGroupOfEachSample() {
    let layer = GroupNorm<Double>(groups: 2, channels: 4, pixels: 3, epsilon: 1e-5)
    let x = LayerGradientTests.values(2 * 12, seed: 35).map { 3 * $0 + 1 }
    let p = [1.0, 2, 0.5, -1, 0, 0.1, 0.2, 0.3]
    let y = Self.run(layer, x: x, t: [0, 0], p: p, rows: 2)
    for s in 0..<2 {
      for g in 0..<2 {
        let group = Array(x[(s * 12 + g * 6)..<(s * 12 + g * 6 + 6)])
        let mean = group.reduce(0, +) / 6
        let variance = group.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 6
        for i in 0..<6 {
          let c = g * 2 + i / 3
          let expected = p[c] * (group[i] - mean) / (variance + 1e-5).squareRoot() + p[4 + c]
          #expect(abs(y[s * 12 + g * 6 + i] - expected) < 1e-12)
        }
      }
    }
  }

  @Test func poolAverages() {
    let y = Self.run(
      GlobalAveragePool<Double>(channels: 2, pixels: 3), x: [1, 2, 3, 4, 5, 9], t: [0], p: [],
      rows: 1)
    #expect(y == [2, 6])
  }
}
