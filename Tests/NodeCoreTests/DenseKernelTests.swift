import Foundation
import NodeCore
import Testing

/// The fused dense kernels against a plain Double evaluation, across tile
/// remainders and widths that are not multiples of the vector width.
/// Serialized: two tests switch the AVX-512 multiply-adds on and off.
@Suite(.serialized) struct DenseKernelTests {
  static func layer(_ inputs: Int, _ outputs: Int, _ activation: Activation, seed: UInt64)
    -> DenseLayer<Float>
  {
    let rng = CounterRandom(seed: seed)
    let scale = 1 / Float(inputs).squareRoot()
    return DenseLayer(
      weight: Tensor(
        shape: [outputs, inputs],
        scalars: (0..<(inputs * outputs)).map { scale * rng.normal(stream: 0, index: UInt64($0)) }),
      bias: Tensor(
        shape: [outputs],
        scalars: (0..<outputs).map { 0.1 * rng.normal(stream: 1, index: UInt64($0)) }),
      activation: activation)
  }

  static func inputs(rows: Int, width: Int, seed: UInt64) -> [Float] {
    let rng = CounterRandom(seed: seed)
    return (0..<(rows * width)).map { 1.5 * rng.normal(stream: 2, index: UInt64($0)) }
  }

  /// The layer evaluated in Double with the exact tanh.
  static func reference(_ layer: DenseLayer<Float>, _ x: [Float], rows: Int) -> [Double] {
    var out: [Double] = []
    for r in 0..<rows {
      for j in 0..<layer.outputWidth {
        var sum = Double(layer.bias[j])
        for k in 0..<layer.inputWidth {
          sum += Double(layer.weight[j, k]) * Double(x[r * layer.inputWidth + k])
        }
        out.append(layer.activation == .tanh ? tanh(sum) : sum)
      }
    }
    return out
  }

  static func run(_ layer: DenseLayer<Float>, _ x: [Float], rows: Int) -> [Float] {
    var y = [Float](repeating: .nan, count: rows * layer.outputWidth)
    x.withUnsafeBufferPointer { xp in
      y.withUnsafeMutableBufferPointer { yp in
        layer.forward(
          xp.baseAddress!, rows: rows, ldx: layer.inputWidth, into: yp.baseAddress!,
          ldy: layer.outputWidth)
      }
    }
    return y
  }

  @Test(arguments: [
    (2, 64), (64, 64), (64, 2), (13, 5), (5, 13), (9, 1), (17, 3), (8, 24), (33, 7),
  ])
  func matchesDoubleReference(inputs: Int, outputs: Int) {
    for activation in [Activation.identity, .tanh] {
      let layer = Self.layer(inputs, outputs, activation, seed: UInt64(inputs * 100 + outputs))
      for rows in [1, 5, 6, 7, 13] {
        let x = Self.inputs(rows: rows, width: inputs, seed: UInt64(rows))
        let y = Self.run(layer, x, rows: rows)
        let expected = Self.reference(layer, x, rows: rows)
        let worst = zip(y, expected).map { abs(Double($0) - $1) }.max()!
        #expect(
          worst < 2e-5 * Double(inputs).squareRoot(),
          "\(inputs)→\(outputs) \(activation) rows \(rows): \(worst)")
      }
    }
  }

  /// The AVX-512 multiply-adds give bitwise the AVX2 kernel's results, over
  /// widths with full and partial 16- and 32-wide blocks and every row remainder.
  @Test(
    .enabled(if: DenseKernel.avx512Available),
    arguments: [
      (64, 64), (64, 40), (2, 64), (13, 17), (9, 33), (64, 8), (30, 48), (5, 16),
    ])
  func avx512IsBitwiseTheAVX2Kernel(inputs: Int, outputs: Int) {
    defer { DenseKernel.avx512Enabled = true }
    for activation in [Activation.identity, .tanh] {
      let layer = Self.layer(inputs, outputs, activation, seed: UInt64(inputs + outputs))
      for rows in [1, 2, 3, 4, 5, 6, 7, 13] {
        let x = Self.inputs(rows: rows, width: inputs, seed: UInt64(rows))
        DenseKernel.avx512Enabled = true
        let wide = Self.run(layer, x, rows: rows)
        DenseKernel.avx512Enabled = false
        let narrow = Self.run(layer, x, rows: rows)
        #expect(
          wide.map(\.bitPattern) == narrow.map(\.bitPattern),
          "\(inputs)→\(outputs) \(activation) rows \(rows)")
      }
    }
  }

  /// The gated kernel's AVX-512 passes (multiply-adds, gate, tanh or its
  /// JVP) give bitwise its AVX2 results.
  @Test(
    .enabled(if: DenseKernel.avx512Available),
    arguments: [
      (64, 64), (64, 40), (2, 64), (17, 24), (64, 2),
    ])
  func gatedAVX512IsBitwiseTheAVX2Kernel(inputs: Int, outputs: Int) {
    defer { DenseKernel.avx512Enabled = true }
    for (per, gateRows) in [(1, 7), (2, 5), (3, 1)] {
      let problem = GatedDenseKernelTests.Problem(
        inputs: inputs, outputs: outputs, rows: gateRows * per, per: per)
      for shift in [false, true] {
        for (tanh, jvp) in [(false, false), (true, false), (true, true)] {
          DenseKernel.avx512Enabled = true
          let wide = problem.run(shift: shift, tanh: tanh, jvp: jvp)
          DenseKernel.avx512Enabled = false
          let narrow = problem.run(shift: shift, tanh: tanh, jvp: jvp)
          let label = "\(inputs)→\(outputs) per \(per) shift \(shift) tanh \(tanh) jvp \(jvp)"
          #expect(wide.y.map(\.bitPattern) == narrow.y.map(\.bitPattern), "\(label)")
          #expect(wide.act.map(\.bitPattern) == narrow.act.map(\.bitPattern), "\(label)")
        }
      }
    }
  }

  @Test(arguments: [(64, 64), (64, 2), (13, 5), (2, 64)])
  func rowsDoNotDependOnTheBatch(inputs: Int, outputs: Int) {
    let layer = Self.layer(inputs, outputs, .tanh, seed: 7)
    let rows = 23
    let x = Self.inputs(rows: rows, width: inputs, seed: 3)
    let together = Self.run(layer, x, rows: rows)
    for r in 0..<rows {
      let alone = Self.run(layer, Array(x[(r * inputs)..<((r + 1) * inputs)]), rows: 1)
      #expect(
        alone.map(\.bitPattern) == together[(r * outputs)..<((r + 1) * outputs)].map(\.bitPattern))
    }
  }

  /// Each output is the bias plus one fused multiply-add per term in
  /// increasing k, bit for bit — also for k over 256, which the wide kernel
  /// runs in blocks (the partial sums pass through the output).
  @Test(arguments: [(7, 24), (64, 16), (300, 40), (585, 64), (513, 9)])
  func wideOutputsAreOneFusedChainInOrder(inputs: Int, outputs: Int) throws {
    try #require(DenseLayer<Float>.isVectorized, "needs AVX2 and FMA")
    let layer = Self.layer(inputs, outputs, .identity, seed: UInt64(inputs))
    for rows in [1, 6, 13] {
      let x = Self.inputs(rows: rows, width: inputs, seed: UInt64(rows + inputs))
      let y = Self.run(layer, x, rows: rows)
      var expected: [Float] = []
      for r in 0..<rows {
        for j in 0..<outputs {
          var sum = layer.bias[j]
          for k in 0..<inputs { sum = sum.addingProduct(x[r * inputs + k], layer.weight[j, k]) }
          expected.append(sum)
        }
      }
      #expect(
        y.map(\.bitPattern) == expected.map(\.bitPattern), "\(inputs)→\(outputs) rows \(rows)")
    }
  }

  @Test func chainEqualsLayerByLayer() {
    let layers = [
      Self.layer(2, 64, .tanh, seed: 1), Self.layer(64, 64, .tanh, seed: 2),
      Self.layer(64, 2, .identity, seed: 3),
    ]
    let chain = DenseChain(layers)
    for rows in [1, 6, 11, 100] {
      let x = Self.inputs(rows: rows, width: 2, seed: UInt64(rows))
      var y = [Float](repeating: 0, count: rows * 2)
      x.withUnsafeBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { yp in
          chain.forward(xp.baseAddress!, rows: rows, ldx: 2, into: yp.baseAddress!, ldy: 2)
        }
      }
      var layered = x
      for layer in layers { layered = Self.run(layer, layered, rows: rows) }
      #expect(y.map(\.bitPattern) == layered.map(\.bitPattern))
    }
  }

  @Test func doubleLayersUseThePortablePath() {
    let layer = DenseLayer<Double>(
      weight: Tensor(shape: [2, 3], scalars: [1, 2, 3, -1, 0.5, 0]),
      bias: Tensor(shape: [2], scalars: [0.5, -0.25]), activation: .tanh)
    var y = [Double](repeating: 0, count: 2)
    let x: [Double] = [0.1, -0.2, 0.3]
    layer.forward(x, rows: 1, ldx: 3, into: &y, ldy: 2)
    let expected = [tanh(0.5 + 0.1 * 1 - 0.2 * 2 + 0.3 * 3), tanh(-0.25 - 0.1 * 1 - 0.2 * 0.5)]
    #expect(zip(y, expected).allSatisfy { abs($0 - $1) < 1e-15 })
  }
}

/// The vectorised tanh of the kernels is within a few ulp of the exact one.
@Suite struct TanhApproximationTests {
  @Test func accuracyOverTheFloatRange() throws {
    try #require(DenseLayer<Float>.isVectorized, "needs AVX2 and FMA")
    // Every 1009th float from 1e-20 to 10, both signs.
    var xs: [Float] = []
    var bits = Float(1e-20).bitPattern
    while Float(bitPattern: bits) < 10 {
      xs.append(Float(bitPattern: bits))
      xs.append(-Float(bitPattern: bits))
      bits += 1009
    }
    xs += [0, 7.9, 7.91, 8, 20, 1e30, -1e30, .infinity, -.infinity]
    let identity = DenseLayer<Float>(
      weight: Tensor(shape: [1, 1], scalars: [1]), bias: Tensor(shape: [1], scalars: [0]),
      activation: .tanh)
    let ys = DenseKernelTests.run(identity, xs, rows: xs.count)
    var worstULP = 0
    var worstAbsolute = 0.0
    for (x, y) in zip(xs, ys) {
      let exact = Float(tanh(Double(x)))
      worstULP = max(worstULP, abs(Int(exact.bitPattern.ordered) - Int(y.bitPattern.ordered)))
      worstAbsolute = max(worstAbsolute, abs(Double(y) - tanh(Double(x))))
    }
    #expect(worstULP <= 5)
    #expect(worstAbsolute < 3e-7)
    #expect(DenseKernelTests.run(identity, [.nan, 1], rows: 2)[0].isNaN)
  }
}

extension UInt32 {
  /// The float's bits mapped to an integer line that is monotone in the value.
  fileprivate var ordered: Int64 {
    self & 0x8000_0000 != 0 ? -Int64(self & 0x7fff_ffff) : Int64(self)
  }
}
