import NodeCore
import Testing

@testable import NodeNN

/// A kept forward pass, JVP and JVP backward pass
/// (``Sequential/keepLastJVPBackward(in:)``) and its replays: the parameter
/// gradient of some rows again, with other weights, bitwise that of new
/// passes over those rows.
@Suite struct KeptJVPBackwardTests {
  /// Runs forward, JVP and the JVP backward pass of `net` over rows `rows`
  /// of the operands with row weights `weights`, keeping every cotangent,
  /// then hands the passes to `kept` if given (while the input tangents,
  /// which the network reads from the caller, are alive); returns the
  /// parameter gradient added to zeros.
  static func passes<S: TensorScalar>(
    _ net: Sequential<S>, _ o: FusedTanhChainTests.Operands, rows: [Int], weights: [S],
    keepingIn kept: KeptJVPBackward<S>? = nil
  ) -> [S] {
    let (n, k) = (rows.count, FusedTanhChainTests.directions)
    func pick(_ a: [Double], _ width: Int) -> [S] {
      rows.flatMap { a[($0 * width)..<(($0 + 1) * width)] }.map { S($0) }
    }
    let (x, v, t, p) = (pick(o.x, 2), pick(o.v, k * 2), pick(o.t, 1), o.p.map { S($0) })
    let (dy, dTangents) = (pick(o.dy, 2), pick(o.dTangents, k * 2))
    var tangents = [S](repeating: 0, count: n * k * 2)
    var dx = [S](repeating: 0, count: n * 2)
    var dp = [S](repeating: 0, count: p.count)
    _ = net.forward(x, rows: n, times: t, parameters: p)
    net.keepsEveryCotangent = true
    v.withUnsafeBufferPointer { vp in
      tangents.withUnsafeMutableBufferPointer { tp in
        net.jvp(
          times: t, parameters: p,
          inputTangents: MatrixView(base: vp.baseAddress!, rows: n, columns: k * 2),
          directions: k, into: MutableMatrixView(base: tp.baseAddress!, rows: n, columns: k * 2))
      }
      dy.withUnsafeBufferPointer { dyp in
        dTangents.withUnsafeBufferPointer { dtp in
          dx.withUnsafeMutableBufferPointer { dxp in
            net.jvpBackward(
              times: t, parameters: p,
              outputCotangent: MatrixView(base: dyp.baseAddress!, rows: n, columns: 2),
              tangentCotangent: MatrixView(base: dtp.baseAddress!, rows: n, columns: k * 2),
              inputCotangent: MutableMatrixView(base: dxp.baseAddress!, rows: n, columns: 2),
              timeCotangents: nil, parameterGradient: &dp, rowWeights: weights)
          }
        }
      }
      if let kept { net.keepLastJVPBackward(in: kept) }
    }
    return dp
  }

  /// The replay of `kept`'s rows `rows` (all when nil) with `weights`.
  static func replay<S: TensorScalar>(
    _ net: Sequential<S>, _ kept: KeptJVPBackward<S>, _ o: FusedTanhChainTests.Operands,
    rows: [Int]?, weights: [S]
  ) -> [S] {
    let k = FusedTanhChainTests.directions
    let chosen = rows ?? Array(0..<kept.rows)
    func pick(_ a: [Double], _ width: Int) -> [S] {
      chosen.flatMap { a[($0 * width)..<(($0 + 1) * width)] }.map { S($0) }
    }
    let (t, dy, dTangents) = (pick(o.t, 1), pick(o.dy, 2), pick(o.dTangents, k * 2))
    let p = o.p.map { S($0) }
    var gradient = [S](repeating: 0, count: p.count)
    let n = chosen.count
    dy.withUnsafeBufferPointer { dyp in
      dTangents.withUnsafeBufferPointer { dtp in
        chosen.withUnsafeBufferPointer { cp in
          net.replayJVPParameterGradient(
            of: kept, outputCotangent: MatrixView(base: dyp.baseAddress!, rows: n, columns: 2),
            tangentCotangent: MatrixView(base: dtp.baseAddress!, rows: n, columns: k * 2),
            times: t, rows: rows == nil ? nil : cp.baseAddress!, count: n, parameters: p,
            into: &gradient, rowWeights: weights)
        }
      }
    }
    return gradient
  }

  /// Replays of every row (twice, with a new pass in between) and of two
  /// rows in another order equal new passes over those rows, bit for bit,
  /// in Float and Double, with the wide and the narrow kernels.
  @Test(arguments: [64, 5])
  func replaysEqualNewPasses(width: Int) {
    func check<S: TensorScalar>(_: S.Type) {
      let net = FusedTanhChainTests.network(S.self, width: width)
      let o = FusedTanhChainTests.Operands(parameterCount: net.parameterCount)
      let all = Array(0..<FusedTanhChainTests.rows)
      let kept = net.makeKeptJVPBackward()
      _ = Self.passes(net, o, rows: all, weights: all.map { _ in S(1) }, keepingIn: kept)
      #expect(kept.rows == all.count)

      let weights: [S] = [0.5, -1.25, 2, 0.75, -0.1]
      let expected = Self.passes(net, o, rows: all, weights: weights)
      #expect(differing(Self.replay(net, kept, o, rows: nil, weights: weights), expected) == 0)
      _ = Self.passes(net, o, rows: [2, 0], weights: [1, 1])
      #expect(differing(Self.replay(net, kept, o, rows: nil, weights: weights), expected) == 0)

      let some: [S] = [0.25, -2]
      let subset = Self.passes(net, o, rows: [3, 1], weights: some)
      #expect(differing(Self.replay(net, kept, o, rows: [3, 1], weights: some), subset) == 0)
    }
    check(Float.self)
    check(Double.self)
  }

  /// Keeping needs a JVP backward pass that kept every cotangent.
  @Test func keepingNeedsEveryCotangent() async {
    await #expect(processExitsWith: .failure) {
      let net = FusedTanhChainTests.network(Double.self, width: 5)
      let o = FusedTanhChainTests.Operands(parameterCount: net.parameterCount)
      _ = Self.passes(net, o, rows: [0, 1], weights: [1, 1])
      _ = net.forward(o.x, rows: 5, times: o.t, parameters: o.p)
      net.keepLastJVPBackward(in: net.makeKeptJVPBackward())
    }
  }
}

/// How many entries of `a` and `b` differ (a failure names a count, not the arrays).
private func differing<S: Equatable>(_ a: [S], _ b: [S]) -> Int {
  a.count == b.count ? zip(a, b).filter { $0 != $1 }.count : max(a.count, b.count)
}
