import Foundation
import NodeCore
import Testing

@testable import NodeNN

/// In `Float` a convolution runs through the lane kernels (AVX-512), or a
/// same-size one through the dense kernel over blocks of samples (padded to
/// whole cache lines); in `Double`, and otherwise, through one BLAS GEMM per
/// sample. All give the same outputs, input and time cotangents and
/// parameter gradients to `Float` rounding, for the plain and the
/// concat-time layer, over several blocks and a partial one.
@Suite struct ConvolutionFloatPathTests {
  /// The outputs, input cotangents, time cotangents and weighted parameter
  /// gradient of `rows` samples.
  static func outputs<S: TensorScalar>(_ layer: any Layer<S>, rows: Int) -> [Double] {
    let r = ConvolutionBatchInvarianceTests.run(layer, 0..<rows, rows: rows)
    return (r.y + r.dx + r.dt + r.gradient).map { Double($0) }
  }

  static func worst(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .infinity
  }

  @Test(arguments: [
    // (channels in, out, kernel, stride, padding, side, rows)
    (5, 7, 3, 1, 1, 6, 40), (65, 64, 3, 1, 1, 6, 13), (4, 6, 4, 2, 1, 12, 9), (3, 5, 3, 1, 0, 4, 1),
  ])
  func floatMatchesDouble(shape: (Int, Int, Int, Int, Int, Int, Int)) {
    let (c, o, k, stride, padding, side, rows) = shape
    let g = ConvolutionGeometry(
      inputChannels: c, outputChannels: o, kernel: (k, k), stride: stride, padding: padding,
      input: (side, side))
    let plain = Self.worst(
      Self.outputs(Conv2d<Float>(g), rows: rows),
      Self.outputs(Conv2d<Double>(g), rows: rows))
    #expect(plain < 1e-5 * Double(g.patchSize).squareRoot(), "\(shape): \(plain)")
    let timed = Self.worst(
      Self.outputs(ConcatTimeConv2d<Float>(g), rows: rows),
      Self.outputs(ConcatTimeConv2d<Double>(g), rows: rows))
    #expect(timed < 1e-5 * Double(g.patchSize).squareRoot(), "\(shape): \(timed)")
  }

  /// Where the AVX-512 kernels run, the lane products (outputs, input and
  /// time cotangents, weighted parameter gradients) agree with the im2col
  /// paths' to rounding (they sum in different orders), for the plain and the
  /// concat-time layer, same-size and strided, over one group and several.
  @Test(
    .enabled(if: LaneConvolutionKernels.run(for: Float.self)),
    arguments: [
      (5, 7, 3, 1, 1, 6, 40), (65, 64, 3, 1, 1, 6, 30), (3, 9, 3, 1, 1, 8, 7),
      (6, 5, 4, 2, 1, 13, 19),
    ])
  func laneKernelsMatchTheColumnPaths(shape: (Int, Int, Int, Int, Int, Int, Int)) {
    let (c, o, k, stride, padding, side, rows) = shape
    let g = ConvolutionGeometry(
      inputChannels: c, outputChannels: o, kernel: (k, k), stride: stride, padding: padding,
      input: (side, side))
    let (lanes, columns) = (Conv2d<Float>(g), Conv2d<Float>(g))
    columns.laneKernelEnabled = false
    #expect(lanes.usesLaneKernel && !columns.usesLaneKernel)
    let plain = Self.worst(
      Self.outputs(lanes, rows: rows), Self.outputs(columns, rows: rows))
    #expect(plain < 1e-5 * Double(g.patchSize).squareRoot(), "\(shape): \(plain)")
    let (timedLanes, timedColumns) = (ConcatTimeConv2d<Float>(g), ConcatTimeConv2d<Float>(g))
    timedColumns.convolution.laneKernelEnabled = false
    let timed = Self.worst(
      Self.outputs(timedLanes, rows: rows), Self.outputs(timedColumns, rows: rows))
    #expect(timed < 1e-5 * Double(g.patchSize).squareRoot(), "\(shape): \(timed)")
  }

  /// The JVP in `Float` (all rows × directions at once through the lane
  /// kernels where they run) against `Double`'s; each direction of a row
  /// bitwise the JVP of that row alone, and what tangents with padded rows
  /// (one call per row) give.
  @Test(arguments: [(5, 7, 3, 1, 1, 6), (4, 6, 4, 2, 1, 12)])
  func jvpMatchesDoubleAndEachRowAlone(shape: (Int, Int, Int, Int, Int, Int)) {
    let (c, o, k, stride, padding, side) = shape
    let g = ConvolutionGeometry(
      inputChannels: c, outputChannels: o, kernel: (k, k), stride: stride, padding: padding,
      input: (side, side))
    let (rows, directions) = (9, 2)
    /// The JVP's tangents of `rows`, tangent rows `gap` values longer than
    /// their directions.
    func jvp<S: TensorScalar>(_ layer: Conv2d<S>, rows: Range<Int>, gap: Int = 0) -> [S] {
      let (inSize, outSize) = (layer.inputSize, layer.outputSize)
      let (inStride, outStride) = (directions * inSize + gap, directions * outSize + gap)
      let n = rows.count
      let p = (0..<layer.parameterCount).map { S(sin(Double($0) * 1.7) * 0.3) }
      let x = rows.flatMap { r in (0..<inSize).map { S(sin(Double(r * inSize + $0) * 0.37)) } }
      let v = rows.flatMap { r in
        (0..<inStride).map { S(cos(Double(r * directions * inSize + $0) * 0.23)) }
      }
      let times = [S](repeating: 0, count: n)
      var y = [S](repeating: 0, count: n * outSize)
      var jv = [S](repeating: 0, count: n * outStride)
      x.withUnsafeBufferPointer { xp in
        let xv = MatrixView(base: xp.baseAddress!, rows: n, columns: inSize)
        y.withUnsafeMutableBufferPointer { yp in
          layer.forward(
            xv, times: times, parameters: p,
            into: MutableMatrixView(base: yp.baseAddress!, rows: n, columns: outSize))
        }
        v.withUnsafeBufferPointer { vp in
          y.withUnsafeBufferPointer { yp in
            jv.withUnsafeMutableBufferPointer { jp in
              layer.jvp(
                xv, output: MatrixView(base: yp.baseAddress!, rows: n, columns: outSize),
                times: times, parameters: p,
                inputTangents: MatrixView(
                  base: vp.baseAddress!, rows: n, columns: directions * inSize,
                  rowStride: inStride),
                directions: directions,
                into: MutableMatrixView(
                  base: jp.baseAddress!, rows: n, columns: directions * outSize,
                  rowStride: outStride))
            }
          }
        }
      }
      return (0..<n).flatMap { jv[($0 * outStride)..<($0 * outStride + directions * outSize)] }
    }
    let single = jvp(Conv2d<Float>(g), rows: 0..<rows)
    let double = jvp(Conv2d<Double>(g), rows: 0..<rows)
    let error = Self.worst(single.map(Double.init), double)
    #expect(error < 1e-5 * Double(g.patchSize).squareRoot(), "\(shape): \(error)")
    let width = directions * g.outputSize
    for r in [0, 4, rows - 1] {
      let alone = jvp(Conv2d<Float>(g), rows: r..<(r + 1))
      #expect(alone == Array(single[(r * width)..<((r + 1) * width)]), "\(shape): row \(r)")
    }
    #expect(jvp(Conv2d<Float>(g), rows: 0..<rows, gap: 3) == single, "\(shape): padded rows")
  }
}
