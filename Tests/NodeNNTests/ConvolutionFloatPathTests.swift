import Foundation
import NodeCore
import Testing

@testable import NodeNN

/// In `Float` a same-size convolution's forward product and its input
/// cotangents run through the dense kernel over blocks of samples (padded to
/// whole cache lines); in `Double`, and for other geometries, through one
/// BLAS GEMM per sample. Both give the same outputs, input and time
/// cotangents to `Float` rounding, for the plain and the concat-time layer,
/// over several blocks and a partial one.
@Suite struct ConvolutionFloatPathTests {
  /// The outputs, input cotangents and time cotangents of `rows` samples.
  static func outputs<S: TensorScalar>(
    _ layer: any Layer<S>, rows: Int, times: [Double]
  ) -> [Double] {
    let x = (0..<(rows * layer.inputSize)).map { S(sin(Double($0) * 0.37)) }
    let dy = (0..<(rows * layer.outputSize)).map { S(cos(Double($0) * 0.23)) }
    let p = (0..<layer.parameterCount).map { S(sin(Double($0) * 1.7) * 0.3) }
    let t = times.map { S($0) }
    var y = [S](repeating: .nan, count: rows * layer.outputSize)
    var dx = [S](repeating: .nan, count: rows * layer.inputSize)
    var dt = [S](repeating: 0, count: rows)
    x.withUnsafeBufferPointer { xp in
      let xv = MatrixView(base: xp.baseAddress!, rows: rows, columns: layer.inputSize)
      y.withUnsafeMutableBufferPointer { yp in
        layer.forward(
          xv, times: t, parameters: p,
          into: MutableMatrixView(base: yp.baseAddress!, rows: rows, columns: layer.outputSize))
      }
      y.withUnsafeBufferPointer { yp in
        dy.withUnsafeBufferPointer { dyp in
          dx.withUnsafeMutableBufferPointer { dxp in
            layer.backward(
              xv, output: MatrixView(base: yp.baseAddress!, rows: rows, columns: layer.outputSize),
              times: t, parameters: p,
              outputCotangent: MatrixView(
                base: dyp.baseAddress!, rows: rows, columns: layer.outputSize),
              inputCotangent: MutableMatrixView(
                base: dxp.baseAddress!, rows: rows, columns: layer.inputSize),
              timeCotangents: &dt, parameterGradient: nil, rowWeights: nil)
          }
        }
      }
    }
    return (y + dx + dt).map { Double($0) }
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
    let times = (0..<rows).map { 0.1 * Double($0) }
    let plain = Self.worst(
      Self.outputs(Conv2d<Float>(g), rows: rows, times: times),
      Self.outputs(Conv2d<Double>(g), rows: rows, times: times))
    #expect(plain < 1e-5 * Double(g.patchSize).squareRoot(), "\(shape): \(plain)")
    let timed = Self.worst(
      Self.outputs(ConcatTimeConv2d<Float>(g), rows: rows, times: times),
      Self.outputs(ConcatTimeConv2d<Double>(g), rows: rows, times: times))
    #expect(timed < 1e-5 * Double(g.patchSize).squareRoot(), "\(shape): \(timed)")
  }
}
