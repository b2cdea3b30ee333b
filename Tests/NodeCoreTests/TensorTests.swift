import NodeCore
import Testing

@Suite struct TensorTests {
  @Test func shapesAndIndexing() {
    var t = Tensor<Float>(shape: [2, 3, 4])
    #expect(t.count == 24 && t.rank == 3)
    t[1, 2, 3] = 5
    #expect(t.scalars[23] == 5)
    #expect(t.offset(of: [1, 0, 2]) == 14)
    #expect(t.reshaped([6, 4]).row(5).last == 5)
    #expect(t.converted(to: Double.self)[1, 2, 3] == 5)
  }

  @Test func bitwiseComparison() {
    let a = Tensor<Double>(shape: [2], scalars: [0, .nan])
    let b = Tensor<Double>(shape: [2], scalars: [0, .nan])
    #expect(a != b)
    #expect(a.isBitwiseIdentical(to: b))
    #expect(
      !Tensor<Double>(shape: [1], scalars: [0]).isBitwiseIdentical(
        to: Tensor(shape: [1], scalars: [-0.0])))
  }

  @Test func scratchBuffersGrowAndStayAligned() {
    let buffer = ScratchBuffer<Float>(capacity: 3)
    #expect(Int(bitPattern: buffer.base) % 64 == 0)
    let grown = buffer.reserve(1000)
    #expect(buffer.capacity == 1000 && grown == buffer.base)
    #expect(Int(bitPattern: grown) % 64 == 0)
    #expect(buffer.reserve(10) == grown)
  }
}

@Suite struct GEMMTests {
  /// A naive triple loop in Double for reference.
  func reference(_ a: Tensor<Double>, _ b: Tensor<Double>, ta: Bool, tb: Bool) -> Tensor<Double> {
    let m = ta ? a.shape[1] : a.shape[0]
    let k = ta ? a.shape[0] : a.shape[1]
    let n = tb ? b.shape[0] : b.shape[1]
    var c = Tensor<Double>(shape: [m, n])
    for i in 0..<m {
      for j in 0..<n {
        var sum = 0.0
        for p in 0..<k { sum += (ta ? a[p, i] : a[i, p]) * (tb ? b[j, p] : b[p, j]) }
        c[i, j] = sum
      }
    }
    return c
  }

  func matrix(_ rows: Int, _ cols: Int, seed: UInt64) -> Tensor<Double> {
    let rng = CounterRandom(seed: seed)
    return Tensor(
      shape: [rows, cols],
      scalars: (0..<(rows * cols)).map {
        rng.normal(stream: 0, index: UInt64($0))
      })
  }

  @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
  func allTransposes(ta: Bool, tb: Bool) {
    let (m, n, k) = (7, 5, 9)
    let a = matrix(ta ? k : m, ta ? m : k, seed: 1)
    let b = matrix(tb ? n : k, tb ? k : n, seed: 2)
    let expected = reference(a, b, ta: ta, tb: tb)
    let double = a.matmul(b, transposeSelf: ta, transposeOther: tb)
    let float = a.converted(to: Float.self).matmul(
      b.converted(to: Float.self), transposeSelf: ta, transposeOther: tb)
    for i in 0..<expected.count {
      #expect(abs(double.scalars[i] - expected.scalars[i]) < 1e-12)
      #expect(abs(Double(float.scalars[i]) - expected.scalars[i]) < 1e-4)
    }
  }

  @Test func alphaBetaAndEmptyInnerDimension() {
    var c: [Double] = [1, 2, 3, 4]
    let a: [Double] = [1, 2]
    let b: [Double] = [3, 4]
    // c = 2 · a bᵀ + 0.5 c, a as [2, 1], b as [1, 2].
    gemm(
      .none, .none, m: 2, n: 2, k: 1, alpha: 2, a: a, lda: 1, b: b, ldb: 2, beta: 0.5, c: &c, ldc: 2
    )
    #expect(c == [6.5, 9, 13.5, 18])
    gemm(.none, .none, m: 2, n: 2, k: 0, a: a, lda: 1, b: b, ldb: 2, beta: 0.5, c: &c, ldc: 2)
    #expect(c == [3.25, 4.5, 6.75, 9])
  }
}

@Suite struct ElementwiseTests {
  @Test func kernels() {
    var out = [Double](repeating: 0, count: 4)
    let x: [Double] = [1, 2, 3, 4]
    Elementwise.scale(x, by: 0.5, into: &out, count: 4)
    #expect(out == [0.5, 1, 1.5, 2])
    Elementwise.axpy(2, x, &out, count: 3)
    #expect(out == [2.5, 5, 7.5, 2])
    let base: [Double] = [10, 20, 30, 40]
    var spread = [Double](repeating: 0, count: 4)
    Elementwise.broadcastRows([1, -1], into: &spread, rows: 2, width: 2)
    #expect(spread == [1, 1, -1, -1])
    Elementwise.addScaled(base: base, scales: spread, x, into: &out, count: 4)
    #expect(out == [11, 22, 27, 36])
    #expect(Elementwise.allFinite(x, count: 4))
    #expect(!Elementwise.allFinite([1, .nan], count: 2))
    #expect(Elementwise.allFinite([1, .nan], count: 1))
  }
}
