import Foundation
import NodeCore
import Testing

@testable import NodeNN

/// A convolution's output for a sample, its input cotangent and (concat-time
/// layer) its time cotangent are bitwise the same whatever else is in the
/// batch and wherever the block boundaries fall — the property per-sample
/// adaptive solves rely on. The shapes cover size-keeping convolutions (a
/// patch under and over the dense kernel's k block of 256, a map of 4
/// pixels) and a strided one, through the lane kernels where they run and
/// through im2col and the dense kernel or BLAS.
@Suite struct ConvolutionBatchInvarianceTests {
  /// `(y, dx, dt)` of samples `samples` of a fixed batch of `rows`, and the
  /// parameter gradient `Σ_s w_s ∂(dy_s · y_s)/∂θ` with fixed row weights.
  static func run<S: TensorScalar>(
    _ layer: any Layer<S>, _ samples: Range<Int>, rows: Int
  ) -> (y: [S], dx: [S], dt: [S], gradient: [S]) {
    let (inSize, outSize) = (layer.inputSize, layer.outputSize)
    let x = (0..<(rows * inSize)).map { S(sin(Double($0) * 0.37)) }
    let dy = (0..<(rows * outSize)).map { S(cos(Double($0) * 0.23)) }
    let p = (0..<layer.parameterCount).map { S(sin(Double($0) * 1.7) * 0.3) }
    let times = (0..<rows).map { S(Double($0) * 0.01) }
    let weights = (0..<rows).map { S(1 + Double($0 % 5) * 0.25) }
    let n = samples.count
    var gradient = [S](repeating: 0, count: layer.parameterCount)
    var y = [S](repeating: 0, count: n * outSize)
    var dx = [S](repeating: 0, count: n * inSize)
    var dt = [S](repeating: 0, count: n)
    let xs = Array(x[(samples.lowerBound * inSize)..<(samples.upperBound * inSize)])
    let dys = Array(dy[(samples.lowerBound * outSize)..<(samples.upperBound * outSize)])
    let (t, w) = (Array(times[samples]), Array(weights[samples]))
    xs.withUnsafeBufferPointer { xp in
      let xv = MatrixView(base: xp.baseAddress!, rows: n, columns: inSize)
      y.withUnsafeMutableBufferPointer { yp in
        layer.forward(
          xv, times: t, parameters: p,
          into: MutableMatrixView(base: yp.baseAddress!, rows: n, columns: outSize))
      }
      dys.withUnsafeBufferPointer { dyp in
        y.withUnsafeBufferPointer { yp in
          dx.withUnsafeMutableBufferPointer { dxp in
            layer.backward(
              xv, output: MatrixView(base: yp.baseAddress!, rows: n, columns: outSize), times: t,
              parameters: p,
              outputCotangent: MatrixView(base: dyp.baseAddress!, rows: n, columns: outSize),
              inputCotangent: MutableMatrixView(base: dxp.baseAddress!, rows: n, columns: inSize),
              timeCotangents: &dt, parameterGradient: &gradient, rowWeights: w)
          }
        }
      }
    }
    return (y, dx, dt, gradient)
  }

  /// Samples alone against the same samples in batches of 40 and 46: several
  /// blocks of the column budget for large maps; in the lanes, whole groups
  /// of 16 and a last short one of 8 or 14, while a sample alone takes one
  /// lane of a group.
  static func check(_ layer: any Layer<Float>, label: String) {
    let (inSize, outSize) = (layer.inputSize, layer.outputSize)
    for rows in [40, 46] {
      let whole = run(layer, 0..<rows, rows: rows)
      for s in [0, 17, rows - 1] {
        let alone = run(layer, s..<(s + 1), rows: rows)
        let (y, dx) = (s * outSize..<(s + 1) * outSize, s * inSize..<(s + 1) * inSize)
        #expect(alone.y == Array(whole.y[y]), "\(label) y \(s) of \(rows)")
        #expect(alone.dx == Array(whole.dx[dx]), "\(label) dx \(s) of \(rows)")
        #expect(alone.dt == [whole.dt[s]], "\(label) dt \(s) of \(rows)")
      }
    }
  }

  @Test(arguments: [
    // (input channels, kernel, stride, map side)
    (5, 3, 1, 6), (32, 3, 1, 6), (5, 3, 1, 2), (5, 4, 2, 12),
  ])
  func sampleResultsDoNotDependOnTheBatch(shape: (Int, Int, Int, Int)) {
    let (channels, kernel, stride, side) = shape
    let g = ConvolutionGeometry(
      inputChannels: channels, outputChannels: 7, kernel: (kernel, kernel), stride: stride,
      padding: 1, input: (side, side))
    for lanes in [true, false] {
      let (plain, timed) = (Conv2d<Float>(g), ConcatTimeConv2d<Float>(g))
      plain.laneKernelEnabled = lanes
      timed.convolution.laneKernelEnabled = lanes
      Self.check(plain, label: "Conv2d \(shape), lanes \(lanes)")
      Self.check(timed, label: "ConcatTimeConv2d \(shape), lanes \(lanes)")
    }
  }

  /// The weight gradient of a batch spread over several blocks of samples
  /// (the columns unfolded block by block, or the lane groups summed block by
  /// block) is the weighted sum of the samples' own, up to the order of the sums.
  @Test func weightGradientsOverSeveralBlocksAreTheSumOfTheSamples() {
    let g = ConvolutionGeometry(
      inputChannels: 32, outputChannels: 7, kernel: (3, 3), padding: 1, input: (6, 6))
    let rows = 40  // 12 samples per block of columns: four blocks
    var layers: [any Layer<Float>] = []
    for lanes in [true, false] {
      let (plain, timed) = (Conv2d<Float>(g), ConcatTimeConv2d<Float>(g))
      for conv in [plain, timed.convolution] {
        conv.laneKernelEnabled = lanes
        // Two lane groups per block: the 40 rows in two whole blocks and a short one.
        conv.laneBudget = 2 * 16 * (conv.inputSize + conv.outputSize)
      }
      layers += [plain, timed]
    }
    for layer in layers {
      let whole = Self.run(layer, 0..<rows, rows: rows).gradient.map(Double.init)
      var summed = [Double](repeating: 0, count: whole.count)
      for s in 0..<rows {
        for (i, v) in Self.run(layer, s..<(s + 1), rows: rows).gradient.enumerated() {
          summed[i] += Double(v)
        }
      }
      let scale = summed.map(abs).max()!
      let error = zip(whole, summed).map { abs($0 - $1) }.max()!
      #expect(error <= 1e-5 * scale, "\(type(of: layer)): \(error) against \(scale)")
    }
  }
}
