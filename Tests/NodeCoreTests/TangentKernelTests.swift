import Foundation
import NodeCore
import Testing

/// The tangent and concat-squash gate kernels: the Float path (the AVX2
/// kernels where the CPU has them) against the portable Double loops on the
/// same inputs, over widths with vector remainders, padded row strides,
/// several direction counts and every optional operand.
@Suite struct TangentKernelTests {
  static let rows = 7

  /// `count` normal values (scaled), the same in both precisions.
  static func values(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    let rng = CounterRandom(seed: seed)
    return (0..<count).map { scale * rng.normal(stream: 0, index: UInt64($0)) }
  }

  /// A `rows × columns` matrix stored with row stride `columns + 3` (the
  /// padding is NaN so that reading it shows).
  struct Padded {
    var storage: [Float]
    let columns: Int
    var stride: Int { columns + 3 }
    init(columns: Int, seed: UInt64, scale: Float = 1) {
      self.columns = columns
      let v = TangentKernelTests.values(TangentKernelTests.rows * columns, seed: seed, scale: scale)
      storage = [Float](repeating: .nan, count: TangentKernelTests.rows * (columns + 3))
      for r in 0..<TangentKernelTests.rows {
        for c in 0..<columns { storage[r * stride + c] = v[r * columns + c] }
      }
    }
    var doubles: [Double] { storage.map(Double.init) }
  }

  /// The largest difference over the matrices' columns (padding excluded).
  static func worst(_ a: [Float], _ b: [Double], columns: Int, stride: Int) -> Double {
    var worst = 0.0
    for r in 0..<rows {
      for c in 0..<columns {
        worst = max(worst, abs(Double(a[r * stride + c]) - b[r * stride + c]))
      }
    }
    return worst
  }

  /// ``TangentKernels/multiplyBlocks(_:blocks:width:by:into:)`` in one precision.
  static func multiplied<S: TensorScalar>(
    _: S.Type, _ x: Padded, blocks: Int, width: Int, by g: [Float]
  ) -> [S] {
    let xs = x.storage.map { S(Double($0)) }
    let gs = g.map { S(Double($0)) }
    var y = xs
    xs.withUnsafeBufferPointer { xp in
      gs.withUnsafeBufferPointer { gp in
        y.withUnsafeMutableBufferPointer { yp in
          TangentKernels.multiplyBlocks(
            MatrixView(base: xp.baseAddress!, rows: rows, columns: x.columns, rowStride: x.stride),
            blocks: blocks, width: width, by: gp.baseAddress!,
            into: MutableMatrixView(
              base: yp.baseAddress!, rows: rows, columns: x.columns, rowStride: x.stride))
        }
      }
    }
    return y
  }

  @Test(arguments: [64, 13, 5])
  func multiplyBlocksMatchesDouble(width: Int) {
    for blocks in [1, 2, 3] {
      let x = Padded(columns: blocks * width, seed: 1)
      let g = Self.values(Self.rows * width, seed: 2)
      let yf = Self.multiplied(Float.self, x, blocks: blocks, width: width, by: g)
      let yd = Self.multiplied(Double.self, x, blocks: blocks, width: width, by: g)
      let error = Self.worst(yf, yd, columns: x.columns, stride: x.stride)
      #expect(error < 1e-6, "width \(width) blocks \(blocks): \(error)")
      #expect(yf[x.columns].isNaN, "the padding after a row was written")
    }
  }

  /// The tanh JVP and its backward pass in one precision.
  static func tanhPasses<S: TensorScalar>(
    _: S.Type, y: Padded, dy: Padded, t: Padded, tbar: Padded, blocks: Int,
    inputCotangent: Bool, tangentCotangent: Bool
  ) -> (jvp: [S], dx: [S], dt: [S]) {
    func cast(_ p: Padded) -> [S] { p.storage.map { S(Double($0)) } }
    let (ys, dys, ts, tbs) = (cast(y), cast(dy), cast(t), cast(tbar))
    var jvp = ts
    var dx = ys
    var dt = ts
    func view(_ a: UnsafeBufferPointer<S>, _ p: Padded) -> MatrixView<S> {
      MatrixView(base: a.baseAddress!, rows: rows, columns: p.columns, rowStride: p.stride)
    }
    func mutable(_ a: UnsafeMutableBufferPointer<S>, _ p: Padded) -> MutableMatrixView<S> {
      MutableMatrixView(base: a.baseAddress!, rows: rows, columns: p.columns, rowStride: p.stride)
    }
    ys.withUnsafeBufferPointer { yp in
      dys.withUnsafeBufferPointer { dyp in
        ts.withUnsafeBufferPointer { tp in
          tbs.withUnsafeBufferPointer { tbp in
            jvp.withUnsafeMutableBufferPointer { jp in
              dx.withUnsafeMutableBufferPointer { dxp in
                dt.withUnsafeMutableBufferPointer { dtp in
                  TangentKernels.tanhJVP(
                    output: view(yp, y), tangents: view(tp, t), blocks: blocks,
                    into: mutable(jp, t))
                  TangentKernels.tanhJVPBackward(
                    output: view(yp, y), outputCotangent: view(dyp, dy), tangents: view(tp, t),
                    tangentCotangents: view(tbp, tbar), blocks: blocks,
                    inputCotangent: inputCotangent ? mutable(dxp, y) : nil,
                    inputTangentCotangent: tangentCotangent ? mutable(dtp, t) : nil)
                }
              }
            }
          }
        }
      }
    }
    return (jvp, dx, dt)
  }

  @Test(arguments: [64, 13, 5])
  func tanhPassesMatchDouble(width: Int) {
    for blocks in [0, 1, 2, 3] {
      let tanhY = Padded(columns: width, seed: 3, scale: 0.4)  // |y| < 1 mostly
      let dy = Padded(columns: width, seed: 4)
      let t = Padded(columns: max(1, blocks) * width, seed: 5)
      let tbar = Padded(columns: max(1, blocks) * width, seed: 6)
      for (dxOn, dtOn) in [(true, true), (true, false), (false, true)] {
        let f = Self.tanhPasses(
          Float.self, y: tanhY, dy: dy, t: t, tbar: tbar, blocks: blocks, inputCotangent: dxOn,
          tangentCotangent: dtOn)
        let d = Self.tanhPasses(
          Double.self, y: tanhY, dy: dy, t: t, tbar: tbar, blocks: blocks, inputCotangent: dxOn,
          tangentCotangent: dtOn)
        let columns = blocks * width
        #expect(Self.worst(f.jvp, d.jvp, columns: columns, stride: t.stride) < 1e-6)
        #expect(Self.worst(f.dx, d.dx, columns: width, stride: tanhY.stride) < 1e-5)
        #expect(Self.worst(f.dt, d.dt, columns: columns, stride: t.stride) < 1e-6)
        // Untouched operands keep their inputs.
        if !dxOn { #expect(f.dx[0] == tanhY.storage[0]) }
        if !dtOn && blocks > 0 { #expect(f.dt[0] == t.storage[0]) }
      }
    }
  }
}
