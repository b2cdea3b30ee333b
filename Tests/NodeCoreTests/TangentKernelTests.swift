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

extension TangentKernelTests {
  /// A tanh layer's output and output tangents in one precision, each
  /// `rows × stride` with NaN padding: from
  /// ``TangentKernels/tanhWithJVP(input:tangents:blocks:output:outputTangents:)``
  /// when `fused`, else from the two passes it replaces (``VectorMath/tanh(_:into:count:)``
  /// row by row, then ``TangentKernels/tanhJVP(output:tangents:blocks:into:)``).
  static func tanhOutputs<S: TensorScalar>(
    _: S.Type, x: Padded, tangents: Padded, blocks: Int, fused: Bool = true
  ) -> (y: [S], tangents: [S]) {
    let width = x.columns
    let xs = x.storage.map { S(Double($0)) }
    let ts = tangents.storage.map { S(Double($0)) }
    var y = [S](repeating: .nan, count: rows * x.stride)
    var yt = [S](repeating: .nan, count: rows * tangents.stride)
    xs.withUnsafeBufferPointer { xp in
      ts.withUnsafeBufferPointer { tp in
        y.withUnsafeMutableBufferPointer { yp in
          yt.withUnsafeMutableBufferPointer { ytp in
            let input = MatrixView(
              base: xp.baseAddress!, rows: rows, columns: width, rowStride: x.stride)
            let inputTangents = MatrixView(
              base: tp.baseAddress!, rows: rows, columns: blocks * width,
              rowStride: tangents.stride)
            let output = MutableMatrixView(
              base: yp.baseAddress!, rows: rows, columns: width, rowStride: x.stride)
            let outputTangents = MutableMatrixView(
              base: ytp.baseAddress!, rows: rows, columns: blocks * width,
              rowStride: tangents.stride)
            if fused {
              TangentKernels.tanhWithJVP(
                input: input, tangents: inputTangents, blocks: blocks, output: output,
                outputTangents: outputTangents)
              return
            }
            for r in 0..<rows { VectorMath.tanh(input.row(r), into: output.row(r), count: width) }
            TangentKernels.tanhJVP(
              output: MatrixView(
                base: output.base, rows: rows, columns: width, rowStride: x.stride),
              tangents: inputTangents, blocks: blocks, into: outputTangents)
          }
        }
      }
    }
    return (y, yt)
  }

  /// How many elements of two arrays differ in their bits (sign, exponent or
  /// significand; NaN padding included), for messages that stay short.
  static func differing<S: BinaryFloatingPoint>(_ a: [S], _ b: [S]) -> Int {
    precondition(a.count == b.count)
    return zip(a, b).filter {
      $0.sign != $1.sign || $0.exponentBitPattern != $1.exponentBitPattern
        || $0.significandBitPattern != $1.significandBitPattern
    }.count
  }

  /// The fused tanh-and-JVP pass gives bitwise the two passes' values, in
  /// both precisions, over widths with 8- and 16-lane remainders and 0–3
  /// directions, and leaves the row padding alone.
  @Test(arguments: [64, 20, 13, 5])
  func tanhWithJVPIsBitwiseTheTwoPasses(width: Int) {
    for blocks in [0, 1, 2, 3] {
      let x = Padded(columns: width, seed: 7, scale: 3)
      let tangents = Padded(columns: max(1, blocks) * width, seed: 8)
      let fused = Self.tanhOutputs(Float.self, x: x, tangents: tangents, blocks: blocks)
      let apart = Self.tanhOutputs(
        Float.self, x: x, tangents: tangents, blocks: blocks, fused: false)
      let fusedD = Self.tanhOutputs(Double.self, x: x, tangents: tangents, blocks: blocks)
      let apartD = Self.tanhOutputs(
        Double.self, x: x, tangents: tangents, blocks: blocks, fused: false)
      let label = "width \(width) blocks \(blocks)"
      let counts = [
        Self.differing(fused.y, apart.y), Self.differing(fused.tangents, apart.tangents),
        Self.differing(fusedD.y, apartD.y), Self.differing(fusedD.tangents, apartD.tangents),
      ]
      #expect(
        counts == [0, 0, 0, 0],
        "\(label): outputs, tangents (Float), outputs, tangents (Double) differing: \(counts)")
      #expect(fused.y[width].isNaN, "\(label): the padding after a row was written")
      // Not a vacuous comparison: the values are tanh's, to Float accuracy.
      let worst = (0..<width).map {
        abs(Double(fused.y[$0]) - Foundation.tanh(Double(x.storage[$0])))
      }
      .max()!
      #expect(worst < 1e-6, "\(label): \(worst)")
    }
  }
}
