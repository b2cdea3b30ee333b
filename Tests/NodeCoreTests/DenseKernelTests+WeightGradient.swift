import NodeCore
import Testing

/// `DenseKernel.addWeightGradient` (`G += Uᵀ X`). In the serialized
/// `DenseKernelTests` suite: it switches the AVX-512 multiply-adds on and off.
extension DenseKernelTests {
  /// A gradient problem with row strides longer than the rows, so that a
  /// kernel reading past a row or mixing up the strides shows.
  struct GradientProblem {
    let rows: Int, outputs: Int, inputs: Int
    let ldu: Int, ldx: Int, ldg: Int
    let u: [Float], x: [Float], start: [Float]

    init(rows: Int, outputs: Int, inputs: Int, seed: UInt64) {
      (self.rows, self.outputs, self.inputs) = (rows, outputs, inputs)
      (ldu, ldx, ldg) = (outputs + 3, inputs + 5, inputs + 2)
      let rng = CounterRandom(seed: seed)
      u = (0..<(rows * ldu)).map { rng.normal(stream: 0, index: UInt64($0)) }
      x = (0..<(rows * ldx)).map { rng.normal(stream: 1, index: UInt64($0)) }
      start = (0..<(outputs * ldg)).map { rng.normal(stream: 2, index: UInt64($0)) }
    }

    /// `G` after the kernel, padding included.
    func run() -> [Float] {
      var g = start
      u.withUnsafeBufferPointer { up in
        x.withUnsafeBufferPointer { xp in
          g.withUnsafeMutableBufferPointer { gp in
            DenseKernel.addWeightGradient(
              cotangents: up.baseAddress!, ldu: ldu, inputs: xp.baseAddress!, ldx: ldx,
              rows: rows, outputs: outputs, inputCount: inputs, into: gp.baseAddress!, ldg: ldg)
          }
        }
      }
      return g
    }

    /// Each element from its old value, one fused multiply-add per row in
    /// increasing row order; the padding untouched.
    func fusedChain() -> [Float] {
      var g = start
      for o in 0..<outputs {
        for i in 0..<inputs {
          var sum = g[o * ldg + i]
          for r in 0..<rows { sum = sum.addingProduct(u[r * ldu + o], x[r * ldx + i]) }
          g[o * ldg + i] = sum
        }
      }
      return g
    }
  }

  /// Bit for bit the fused chain in row order, on the AVX2 path and the
  /// AVX-512 one, over tile remainders (outputs not a multiple of 6, inputs
  /// not of 16 or 32, fewer than 8 inputs: the transposed product) and row
  /// counts across the kernel's 64-row blocks.
  @Test(arguments: [(64, 64), (13, 17), (6, 8), (7, 33), (64, 40), (2, 64), (64, 2), (9, 3)])
  func weightGradientIsOneFusedChainPerElement(outputs: Int, inputs: Int) throws {
    try #require(DenseLayer<Float>.isVectorized, "needs AVX2 and FMA")
    defer { DenseKernel.avx512Enabled = true }
    for rows in [1, 5, 63, 64, 65, 130, 200] {
      let problem = GradientProblem(
        rows: rows, outputs: outputs, inputs: inputs, seed: UInt64(rows * 1000 + outputs))
      let expected = problem.fusedChain().map(\.bitPattern)
      for avx512 in DenseKernel.avx512Available ? [false, true] : [false] {
        DenseKernel.avx512Enabled = avx512
        let differing = zip(problem.run().map(\.bitPattern), expected).filter { $0 != $1 }.count
        #expect(
          differing == 0,
          "\(outputs)×\(inputs) over \(rows) rows, AVX-512 \(avx512): \(differing) elements differ")
      }
    }
  }

  /// Fewer than 8 inputs and outputs (BLAS) and Double (BLAS) agree with the
  /// chain to rounding.
  @Test(arguments: [(3, 5), (5, 7), (64, 64), (64, 2)])
  func weightGradientThroughBLASAgrees(outputs: Int, inputs: Int) {
    let problem = GradientProblem(rows: 97, outputs: outputs, inputs: inputs, seed: 5)
    let expected = problem.fusedChain()
    let float = problem.run()
    var double = problem.start.map(Double.init)
    let (u, x) = (problem.u.map(Double.init), problem.x.map(Double.init))
    DenseKernel.addWeightGradient(
      cotangents: u, ldu: problem.ldu, inputs: x, ldx: problem.ldx, rows: problem.rows,
      outputs: outputs, inputCount: inputs, into: &double, ldg: problem.ldg)
    for (index, value) in expected.enumerated() {
      #expect(abs(float[index] - value) <= 1e-4 * (1 + abs(value)), "Float element \(index)")
      #expect(abs(double[index] - Double(value)) <= 1e-4 * (1 + abs(Double(value))))
    }
  }
}
